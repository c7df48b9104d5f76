"""Benchmark: placement quality and replay time of `suanli simulate` on every trace variant.

Generates each named variant (`suanli.simulate.variants`: the development trace, the
production-shaped one and its variants with more typed, share and multi-GPU pods) at one size,
replays `suanli`, `fgd` and `bestfit` on the same seeds, and prints one table: per variant and
policy the unallocated GPU % at arrived 100 % (mean ± sd over the seeds) and the seconds per
seed, and `suanli` against `fgd`. Writes JSON under bench/results/.

    python bench/simulate.py [--nodes 1200] [--pods 10000] [--seeds 42-51] [--jobs 2]
        [--variants all] [--policies suanli,fgd,bestfit] [--ties own] [--quick]

`--quick` is 400 nodes, 3000 pods and seeds 42-44, for a run of a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from suanli.simulate import compare, report
from suanli.simulate.policies import TIE_RULES
from suanli.simulate.results import SeedResult
from suanli.simulate.run import RunResult, RunSpec, default_jobs, parse_policies, parse_seeds
from suanli.simulate.run import run as replay_all
from suanli.simulate.variants import VARIANTS, parse_variants

TRACE_SEED = 7
QUICK = {"nodes": 400, "pods": 3000, "seeds": "42-44"}
TARGET = compare.Target()


def _progress(result: SeedResult) -> None:
    print(
        f"  {result.policy:8} seed {result.seed:<4} {result.seconds:6.1f} s "
        f"({result.cpu_seconds:5.2f} s CPU)  "
        f"unallocated @100%: {result.unallocated.get(100, float('nan')):.2f}%",
        file=sys.stderr,
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1200)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--variants", type=parse_variants, default=tuple(VARIANTS))
    parser.add_argument("--policies", type=parse_policies, default=("suanli", "fgd", "bestfit"))
    parser.add_argument("--ties", choices=TIE_RULES, default="own")
    parser.add_argument("--quick", action="store_true", help="400 nodes, 3000 pods, 3 seeds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate.json"))
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.pods, args.seeds = QUICK["nodes"], QUICK["pods"], QUICK["seeds"]
    seeds = parse_seeds(str(args.seeds))

    runs: dict[str, RunResult] = {}
    began = time.perf_counter()
    for name in args.variants:
        variant = VARIANTS[name]
        print(f"{name}: {variant.about}", file=sys.stderr)
        spec = RunSpec(
            tuple(variant.nodes(args.nodes)),
            tuple(variant.pods(args.pods, TRACE_SEED)),
            args.policies,
            seeds,
            jobs=args.jobs,
            ties=args.ties,
        )
        runs[name] = replay_all(spec, progress=_progress)
    wall = time.perf_counter() - began

    versus = "fgd" if "fgd" in args.policies else None
    first = args.policies[0]
    text = compare.table(runs, args.policies, versus)
    title = (
        f"{args.nodes} nodes, {args.pods} pods per variant, seeds {args.seeds} "
        f"(mean ± sd over {len(seeds)}), ties {args.ties}, {args.jobs} jobs, {wall:.0f} s wall"
    )
    checks = compare.verdicts(runs, first, versus, TARGET) if versus and first != versus else {}
    document = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "nodes": args.nodes,
        "pods": args.pods,
        "seeds": list(seeds),
        "wall_seconds": round(wall, 1),
        "target": {
            "policy": first,
            "against": versus,
            "fewer_pct": TARGET.fewer_pct,
            "seeds_worse": TARGET.seeds_worse,
            "time_ratio": TARGET.time_ratio,
        },
        "checks": checks,
        "met": bool(checks) and all(c["met"] for c in checks.values()),
        "variants": {name: report.summary(run) for name, run in runs.items()},
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(title)
    print(text)
    if checks:
        missed = [name for name, check in checks.items() if not check["met"]]
        print(
            f"target ({first} >= {TARGET.fewer_pct:g}% fewer than {versus}, worse on <= "
            f"{TARGET.seeds_worse} seeds, time <= x{TARGET.time_ratio:g}): "
            + ("met on every variant" if not missed else f"missed on {', '.join(missed)}")
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
