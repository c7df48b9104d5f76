"""Benchmark: CPU seconds of one `suanli` replay per seed, this code against a baseline commit.

The speed target of `suanli simulate` is a ratio to an earlier commit on the same trace (by
default d0bc543, the code before the fleet-scale work, on the 1200-node / 10000-pod `dev`
trace of `bench/simulate.py`). Both are timed in the same run, interleaved: for every round and
seed, the baseline's replay and then this code's, each in a fresh process and measured around
`run_one` (CPU seconds, so a busy machine slows both alike). Prints a table per seed (every
replay, the ratio by the mean, the median and the fastest replay, and the unallocated GPU % at
arrived 100 % of each) and writes JSON under bench/results/.

    python bench/simulate_speed.py [--baseline d0bc543] [--seeds 42-44] [--rounds 3]
        [--nodes 1200] [--pods 10000] [--variant dev] [--target 5]

The baseline's `operator/` is taken from git (`git archive`), so the clone needs its history;
it runs as pure Python. This code runs as the checkout has it: `make bench-simulate-speed`
compiles the decider's hot modules first (`make compile`), and the table says which it was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One replay, timed in the process that runs it. Older code has no named variants: its
# generator's defaults are the `dev` trace.
_REPLAY = """
import json, sys, time
from suanli.simulate.run import RunSpec, run_one
variant, nodes, pods, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
try:
    from suanli.simulate.variants import VARIANTS
    node_rows, pod_rows = VARIANTS[variant].nodes(nodes), VARIANTS[variant].pods(pods, 7)
except ImportError:
    if variant != "dev":
        raise SystemExit(f"this code has no trace variant {variant!r}") from None
    from suanli.simulate.generate import generate_nodes, generate_pods
    node_rows, pod_rows = generate_nodes(nodes), generate_pods(pods, 7, 0.1)
spec = RunSpec(tuple(node_rows), tuple(pod_rows), ("suanli",), (seed,))
began = time.process_time()
result = run_one(spec, "suanli", seed)
cpu = time.process_time() - began
import pathlib, suanli  # modules compiled in place (`make compile`), or none
compiled = any(pathlib.Path(suanli.__file__).parent.rglob("*.so"))
print(json.dumps({"cpu": cpu, "unallocated": result.unallocated.get(100), "compiled": compiled}))
"""


def _seeds(text: str) -> list[int]:
    """`42-44` or `42,45`: the seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def _checkout(commit: str, into: Path) -> Path:
    """The commit's `operator/` under `into`; its path."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "operator"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "operator"


def _replay(source: Path, variant: str, nodes: int, pods: int, seed: int) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-c", _REPLAY, variant, str(nodes), str(pods), str(seed)],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tempfile.gettempdir(),  # away from the repository: only PYTHONPATH names the code
    )
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# Per replay: its CPU seconds, unallocated GPU %, and whether the decider ran compiled (1/0).
Replays = list[dict[str, float]]


def ratios(before: Replays, after: Replays) -> dict[str, float]:
    """The baseline's CPU seconds (`before`) against this code's (`after`): by the mean, the
    median and the fastest replay, with each one's mean CPU seconds and unallocated %."""
    slow, fast = [r["cpu"] for r in before], [r["cpu"] for r in after]
    return {
        "baseline_mean": statistics.mean(slow),
        "now_mean": statistics.mean(fast),
        "by_mean": statistics.mean(slow) / statistics.mean(fast),
        "by_median": statistics.median(slow) / statistics.median(fast),
        "by_fastest": min(slow) / min(fast),
        "baseline_unallocated": statistics.mean(r["unallocated"] for r in before),
        "now_unallocated": statistics.mean(r["unallocated"] for r in after),
    }


def summary(baseline: dict[int, Replays], now: dict[int, Replays]) -> dict[str, dict[str, float]]:
    """`ratios` per seed, and over the replays of every seed (`all`)."""
    rows = {str(seed): ratios(runs, now[seed]) for seed, runs in baseline.items()}
    every = [r for runs in baseline.values() for r in runs]
    rows["all"] = ratios(every, [r for runs in now.values() for r in runs])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="d0bc543", help="the commit to compare with")
    parser.add_argument("--seeds", default="42-44")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=1200)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--variant", default="dev")
    parser.add_argument("--target", type=float, default=5.0, help="the speed-up per seed asked")
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate-speed.json"))
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    if args.rounds < 1 or not seeds:
        parser.error("--rounds must be at least 1 and --seeds name at least one seed")

    baseline: dict[int, Replays] = {seed: [] for seed in seeds}
    now: dict[int, Replays] = {seed: [] for seed in seeds}
    with tempfile.TemporaryDirectory() as folder:
        old = _checkout(args.baseline, Path(folder))
        for round_number in range(1, args.rounds + 1):
            for seed in seeds:
                for label, source, into in (
                    (args.baseline, old, baseline),
                    ("now", ROOT / "operator", now),
                ):
                    found = _replay(source, args.variant, args.nodes, args.pods, seed)
                    into[seed].append(found)
                    print(
                        f"  round {round_number} seed {seed} {label:8} {found['cpu']:6.2f} s CPU"
                        f"  unallocated @100%: {found['unallocated']:.3f}%",
                        file=sys.stderr,
                        flush=True,
                    )

    rows = summary(baseline, now)
    # Whether this code's decider ran compiled (`make compile`), as every replay of it did.
    compiled = all(r["compiled"] for runs in now.values() for r in runs)
    met = all(rows[str(seed)]["by_mean"] >= args.target for seed in seeds)
    print(
        f"{args.variant}: {args.nodes} nodes, {args.pods} pods, {args.rounds} rounds interleaved; "
        f"CPU seconds of one suanli replay, {args.baseline} against now"
        f" ({'compiled' if compiled else 'pure Python'})"
    )
    print(f"{'seed':>5} | {args.baseline:>22} | {'now':>22} | mean / median / fastest | unalloc %")
    for seed in seeds:
        row = rows[str(seed)]
        before = "; ".join(f"{r['cpu']:.2f}" for r in baseline[seed])
        after = "; ".join(f"{r['cpu']:.2f}" for r in now[seed])
        print(
            f"{seed:>5} | {before:>22} | {after:>22} | {row['by_mean']:.2f} / "
            f"{row['by_median']:.2f} / {row['by_fastest']:.2f}x | "
            f"{row['baseline_unallocated']:.3f} -> {row['now_unallocated']:.3f}"
        )
    total = rows["all"]
    print(
        f"  all | {total['baseline_mean']:>20.2f} s | {total['now_mean']:>20.2f} s | "
        f"{total['by_mean']:.2f} / {total['by_median']:.2f} / {total['by_fastest']:.2f}x | "
        f"{total['baseline_unallocated']:.3f} -> {total['now_unallocated']:.3f}"
    )
    print(
        f"target (>= {args.target:g}x on every seed by the mean): "
        + (
            "met"
            if met
            else "missed on seeds "
            + ", ".join(str(s) for s in seeds if rows[str(s)]["by_mean"] < args.target)
        )
    )
    document = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "baseline": args.baseline,
        "variant": args.variant,
        "nodes": args.nodes,
        "pods": args.pods,
        "rounds": args.rounds,
        "compiled": compiled,
        "target": args.target,
        "met": met,
        "replays": {str(seed): {"baseline": baseline[seed], "now": now[seed]} for seed in seeds},
        "ratios": rows,
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
