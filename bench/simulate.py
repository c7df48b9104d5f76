"""Benchmark: placement quality and replay time of `suanli simulate` on generated traces.

Generates a heterogeneous trace (1200 nodes, 10000 pods, a tenth of the GPU pods constrained to
one or two models) and its GPU-model-constrained variant (the same pods, 40 % constrained), then

1. times a full replay of the `suanli` policy over every seed (the production scoring), with the
   time of each seed;
2. replays the baselines on the same seeds and compares: GPU left unallocated at arrived 100 %
   and 130 %, fragmentation rate, dropped pods;
3. replays `suanli`, `fgd` and `bestfit` on the constrained variant.

Prints the tables, writes JSON and the plots under bench/results/.

    python bench/simulate.py [--nodes 1200] [--pods 10000] [--seeds 42-51] [--jobs 2]
        [--ties own|name|seeded]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from suanli.simulate import report
from suanli.simulate.generate import generate_nodes, generate_pods
from suanli.simulate.policies import POLICY_NAMES, TIE_RULES
from suanli.simulate.replay import SeedResult
from suanli.simulate.run import RunResult, RunSpec, default_jobs, parse_seeds, run

TRACE_SEED = 7
LIMIT_SECONDS = 600.0  # a full replay of every seed with the production scoring
WANTED_FEWER = 30.0  # % fewer GPUs unallocated at arrived 100 % than bestfit


def _progress(result: SeedResult) -> None:
    print(
        f"  {result.policy:12} seed {result.seed:<4} {result.seconds:6.1f} s  "
        f"unallocated @100%: {result.unallocated.get(100, float('nan')):.2f}%",
        file=sys.stderr,
        flush=True,
    )


def _timed(spec: RunSpec) -> tuple[RunResult, float]:
    began = time.perf_counter()
    outcome = run(spec, progress=_progress)
    return outcome, time.perf_counter() - began


def _merge(spec: RunSpec, *parts: RunResult) -> RunResult:
    merged = RunResult(spec, gpu_capacity_milli=parts[0].gpu_capacity_milli)
    merged.trace_load = parts[0].trace_load
    for part in parts:
        merged.results.extend(part.results)
    return merged


def _not_worse(outcome: RunResult) -> dict[str, Any]:
    compared = report.versus(outcome).get("suanli", {})
    return {
        "fewer_unallocated_at_100_pct": compared.get("fewer_unallocated_at_100_pct"),
        "seeds_not_worse": compared.get("seeds_not_worse"),
        "seeds": compared.get("seeds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1200)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("42-51"))
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--constrained", type=float, default=0.1)
    parser.add_argument("--constrained-variant", type=float, default=0.4)
    parser.add_argument("--ties", choices=TIE_RULES, default="own")
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate.json"))
    args = parser.parse_args()

    nodes = tuple(generate_nodes(args.nodes))
    pods = tuple(generate_pods(args.pods, TRACE_SEED, args.constrained))
    variant = tuple(generate_pods(args.pods, TRACE_SEED, args.constrained_variant))
    base = RunSpec(nodes, pods, ("suanli",), args.seeds, jobs=args.jobs, ties=args.ties)

    print(f"1. suanli, {len(args.seeds)} seeds, {args.jobs} jobs", file=sys.stderr)
    timed, wall = _timed(base)
    print("2. baselines", file=sys.stderr)
    baselines = tuple(p for p in POLICY_NAMES if p != "suanli")
    others, _ = _timed(replace(base, policies=baselines))
    compared = _merge(replace(base, policies=POLICY_NAMES), timed, others)
    print(f"3. constrained variant ({args.constrained_variant:.0%} of GPU pods)", file=sys.stderr)
    constrained, _ = _timed(replace(base, pods=variant, policies=("suanli", "fgd", "bestfit")))

    per_seed = {r.seed: round(r.seconds, 2) for r in timed.of("suanli")}
    timing = {
        "wall_seconds": round(wall, 1),
        "limit_seconds": LIMIT_SECONDS,
        "within_limit": wall <= LIMIT_SECONDS,
        "jobs": args.jobs,
        "per_seed_seconds": per_seed,
        "pods_per_seed": {r.seed: r.pods for r in timed.of("suanli")},
        "evaluated_nodes_per_pod": round(
            sum(r.evaluated_nodes for r in timed.results) / sum(r.pods for r in timed.results), 1
        ),
    }
    default_check = _not_worse(compared)
    variant_check = _not_worse(constrained)
    acceptance = {
        "fewer_unallocated_than_bestfit": default_check,
        "met_fewer": (default_check["fewer_unallocated_at_100_pct"] or 0) >= WANTED_FEWER,
        "constrained_variant": variant_check,
        "met_never_worse": variant_check["seeds_not_worse"] == variant_check["seeds"],
        "met_time": timing["within_limit"],
    }
    out: Path = args.out
    report.plot(compared, out.with_name("simulate.png"))
    report.plot(constrained, out.with_name("simulate-constrained.png"))
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()}
    document = {
        "machine": machine,
        "timing": timing,
        "acceptance": acceptance,
        "trace": report.summary(compared),
        "constrained_variant": report.summary(constrained),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    print(report.table(compared))
    print()
    print(f"constrained variant: {args.constrained_variant:.0%} of GPU pods accept 1-2 models")
    print(report.table(constrained))
    print()
    seeds = "  ".join(f"{seed}: {seconds:.1f} s" for seed, seconds in per_seed.items())
    print(f"suanli, {len(per_seed)} seeds on {args.jobs} jobs: {wall:.1f} s wall ({seeds})")
    print(f"acceptance: {json.dumps(acceptance)}")
    plots = f"{out.with_name('simulate.png')}, {out.with_name('simulate-constrained.png')}"
    print(f"wrote {out}, {plots}")


if __name__ == "__main__":
    main()
