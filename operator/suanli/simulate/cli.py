"""`suanli simulate`: replay a cluster trace through the scoring core, or generate one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from suanli.simulate.policies import POLICY_NAMES, TIE_RULES
from suanli.simulate.results import SeedResult
from suanli.simulate.run import (
    DEFAULT_INFLATE,
    RunSpec,
    default_jobs,
    parse_policies,
    parse_seeds,
    run,
)
from suanli.simulate.trace import TraceError, load_nodes, load_pods, nodes_csv, pods_csv
from suanli.simulate.variants import VARIANTS

EXIT_ERROR = 1


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return parse_seeds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _policies(text: str) -> tuple[str, ...]:
    try:
        return parse_policies(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _progress(result: SeedResult) -> None:
    at = ", ".join(f"@{k}%: {v:.2f}%" for k, v in sorted(result.unallocated.items()))
    print(
        f"  {result.policy:12} seed {result.seed:<5} {result.seconds:6.1f} s  "
        f"unallocated GPU {at}; {result.failed} of {result.pods} pods dropped",
        file=sys.stderr,
        flush=True,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from suanli.simulate import report  # noqa: PLC0415 - keeps `suanli --help` fast

    try:
        nodes, pods = load_nodes(args.nodes), load_pods(args.pods)
    except (OSError, TraceError) as error:
        print(f"suanli simulate: {error}", file=sys.stderr)
        return EXIT_ERROR
    spec = RunSpec(
        nodes=tuple(nodes),
        pods=tuple(pods),
        policies=args.policies,
        seeds=args.seeds,
        inflate=args.inflate,
        jobs=args.jobs,
        catalog=args.catalog,
        latency=args.latency,
        ties=args.ties,
    )
    print(
        f"replaying {len(pods)} pods on {len(nodes)} nodes: {', '.join(spec.policies)} x "
        f"{len(spec.seeds)} seeds, {spec.jobs} jobs",
        file=sys.stderr,
    )
    outcome = run(spec, progress=_progress)
    text = report.table(outcome)
    print(text)
    out: Path = args.out
    report.write_json(outcome, out / "simulate.json")
    (out / "simulate.txt").write_text(text + "\n", encoding="utf-8")
    plotted = not args.no_plot and report.can_plot()
    if plotted:
        report.plot(outcome, out / "simulate.png")
    elif not args.no_plot:
        print(
            "no PNG: plotting needs matplotlib, from the plot extra (pip install 'suanli[plot]')",
            file=sys.stderr,
        )
    print(f"wrote {out / 'simulate.json'}" + (f", {out / 'simulate.png'}" if plotted else ""))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    variant = VARIANTS[args.variant]
    nodes = variant.nodes(args.nodes)
    pods = variant.pods(args.pods, args.seed, args.constrained)
    (out / "nodes.csv").write_text(nodes_csv(nodes), encoding="utf-8")
    (out / "pods.csv").write_text(pods_csv(pods), encoding="utf-8")
    gpus = sum(n.gpu for n in nodes)
    load = sum(p.gpu_request_milli for p in pods) / 1000 / max(1, gpus)
    print(
        f"wrote {out / 'nodes.csv'} ({len(nodes)} nodes, {gpus} GPUs) and {out / 'pods.csv'} "
        f"({variant.name}: {variant.about}; "
        f"{len(pods)} pods asking for {100 * load:.0f}% of the GPUs)"
    )
    return 0


def add_simulate(commands: Any) -> None:
    """Register `suanli simulate run|generate` on the top-level subcommands."""
    simulate = commands.add_parser(
        "simulate", help="replay a cluster trace through the scoring core (no cluster needed)"
    )
    actions = simulate.add_subparsers(dest="simulate_command", required=True)

    replay = actions.add_parser("run", help="replay a trace; print a table, write JSON and PNG")
    replay.add_argument(
        "--nodes", type=Path, required=True, help="sn,cpu_milli,memory_mib,gpu,model"
    )
    replay.add_argument(
        "--pods",
        type=Path,
        required=True,
        help="name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec (more columns are ignored)",
    )
    replay.add_argument(
        "--policies",
        type=_policies,
        default=POLICY_NAMES,
        help=f"comma-separated, from {','.join(POLICY_NAMES)} (default: all)",
    )
    replay.add_argument(
        "--ties",
        choices=TIE_RULES,
        default="own",
        help="how fgd and the cost baselines order nodes of equal cost: own (each policy's "
        "published rule), name, seeded (a seeded random order of node names); default own",
    )
    replay.add_argument("--seeds", type=_seeds, default=(42,), help="e.g. 42-51 (default 42)")
    replay.add_argument(
        "--inflate",
        type=float,
        default=DEFAULT_INFLATE,
        help="replay until the GPU requested reaches this many times the capacity (1.3)",
    )
    replay.add_argument(
        "--jobs", type=int, default=default_jobs(), help="worker processes (default: up to 2)"
    )
    replay.add_argument("--out", type=Path, default=Path("simulate-out"), help="output folder")
    replay.add_argument("--catalog", type=Path, help="accelerator catalog (default: built-in)")
    replay.add_argument("--latency", type=Path, help="site latency map (default: built-in)")
    replay.add_argument("--no-plot", action="store_true", help="skip the PNG")
    replay.set_defaults(handler=_cmd_run)

    generate = actions.add_parser("generate", help="write a synthetic heterogeneous trace")
    generate.add_argument("--nodes", type=int, default=1200, help="nodes (default 1200)")
    generate.add_argument("--pods", type=int, default=10000, help="pods (default 10000)")
    generate.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    generate.add_argument(
        "--variant",
        choices=tuple(VARIANTS),
        default="dev",
        help="the fleet and pod mix (default dev; docs/simulate.md lists them)",
    )
    generate.add_argument(
        "--constrained",
        type=float,
        help="share of GPU pods that accept only one or two models (default: the variant's)",
    )
    generate.add_argument("--out", type=Path, required=True, help="folder for nodes.csv, pods.csv")
    generate.set_defaults(handler=_cmd_generate)

    from suanli.simulate.timed_cli import add_timed  # noqa: PLC0415 - keeps `--help` fast

    add_timed(actions)
