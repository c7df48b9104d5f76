"""`suanli simulate timed`: greedy admission and EASY backfill side by side on one generated
stream of jobs with arrivals and durations; a table, `timed.json` and `timed.png`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.simulate.timed import TIMED_POLICIES, TimedResult, generate_jobs, simulate

COLUMNS = (
    ("policy", "policy"),
    ("utilisation_pct", "GPU util %"),
    ("mean_wait_min", "mean wait min"),
    ("p95_wait_min", "p95 wait min"),
    ("largest_gang_max_wait_min", "largest gang wait min"),
    ("estimate_mae_min", "estimate MAE min"),
    ("makespan_h", "makespan h"),
)


def table(rows: Sequence[dict[str, Any]]) -> str:
    cells = [[title for _, title in COLUMNS]]
    cells += [["-" if row[k] is None else str(row[k]) for k, _ in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    return "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


def plot(results: Sequence[TimedResult], path: Path) -> None:
    """GPU utilisation over time, one line per policy, and each policy's waits by job size."""
    import matplotlib  # noqa: PLC0415 - only plotting needs it; loading it is slow

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), dpi=110)
    for result in results:
        times = [t / 3600 for t, _ in result.utilisation]
        left.step(
            times, [100 * u for _, u in result.utilisation], where="post", label=result.policy
        )
        sizes = sorted({o.job.size for o in result.outcomes})
        means = []
        for size in sizes:
            waits = [w for o in result.outcomes if o.job.size == size and (w := o.wait) is not None]
            means.append(sum(waits) / len(waits) / 60 if waits else 0.0)
        right.plot([str(s) for s in sizes], means, marker="o", label=result.policy)
    left.set(xlabel="hours", ylabel="GPUs in use %", title="Utilisation over time")
    right.set(xlabel="GPUs per job", ylabel="mean wait (min)", title="Wait by job size")
    left.legend()
    right.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def cmd_timed(args: argparse.Namespace) -> int:
    if args.nodes < 4:
        print("suanli simulate timed: --nodes must be at least 4 (a gang takes 4)", file=sys.stderr)
        return 1
    files = ScoringConfigFiles(args.catalog, None)
    jobs = generate_jobs(args.jobs, args.nodes, args.seed, args.load)
    results = [simulate(p, args.nodes, jobs, files.catalog, files.latency) for p in TIMED_POLICIES]
    rows = [r.summary() for r in results]
    text = (
        f"{args.nodes} nodes x 8 H100, {args.jobs} jobs (load {args.load:g}, seed {args.seed}): "
        "80% 1 GPU, 12% 8 GPUs, 8% 4 x 8-GPU gangs, 5-60 min, limits 1-2x the run time\n"
        + table(rows)
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "timed.txt").write_text(text + "\n")
    data = {
        "nodes": args.nodes,
        "jobs": args.jobs,
        "seed": args.seed,
        "load": args.load,
        "policies": rows,
        "utilisation": {r.policy: r.utilisation for r in results},
    }
    (args.out / "timed.json").write_text(json.dumps(data, indent=2) + "\n")
    if not args.no_plot:
        from suanli.simulate.report import can_plot  # noqa: PLC0415

        if can_plot():
            plot(results, args.out / "timed.png")
    return 0


def add_timed(actions: Any) -> None:
    timed = actions.add_parser(
        "timed",
        help="jobs with arrivals and durations: greedy vs EASY backfill (waits, utilisation, "
        "estimate error); table, JSON and PNG",
    )
    timed.add_argument("--nodes", type=int, default=16, help="8-GPU nodes (default 16)")
    timed.add_argument("--jobs", type=int, default=300, help="jobs in the stream (default 300)")
    timed.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    timed.add_argument(
        "--load",
        type=float,
        default=1.1,
        help="GPU-time asked for over the fleet's during the arrivals (default 1.1)",
    )
    timed.add_argument("--out", type=Path, default=Path("simulate-out"), help="output folder")
    timed.add_argument("--catalog", type=Path, help="accelerator catalog (default: built-in)")
    timed.add_argument("--no-plot", action="store_true", help="skip the PNG")
    timed.set_defaults(handler=cmd_timed)
