"""The `suanli` command line (also `python -m suanli`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from suanli import __version__
from suanli.devcluster.processes import ClusterError
from suanli.fleet import (
    Fleet,
    FleetError,
    default_fleet,
    load_fleet,
    node_manifests,
    scale_fleet,
)

EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3


def _fleet_from_args(args: argparse.Namespace) -> Fleet:
    fleet = load_fleet(args.fleet) if args.fleet else default_fleet()
    return scale_fleet(fleet, args.nodes) if args.nodes is not None else fleet


def _add_fleet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", type=Path, help="fleet file (default: the built-in demo fleet)")
    parser.add_argument(
        "--nodes", type=int, help="scale the fleet to this many nodes, keeping its mix"
    )


def _cmd_dev_up(args: argparse.Namespace) -> int:
    from suanli.devcluster import cluster, nodes

    fleet = None if args.no_fleet else _fleet_from_args(args)
    state = cluster.up(
        cluster.UpOptions(
            state_dir=args.state_dir,
            apiserver_port=args.apiserver_port,
            extender_port=args.extender_port,
        )
    )
    print(f"control plane up in {state.start_seconds:.1f} s: {state.server}")
    if fleet is not None:
        count = nodes.apply_fleet(Path(state.kubeconfig), fleet)
        seconds = nodes.wait_nodes_ready(Path(state.kubeconfig), count)
        print(f"fleet {fleet.name!r}: {count} nodes Ready in {seconds:.1f} s")
    print(f"extender expected at 127.0.0.1:{state.ports.extender}")
    print(f"export KUBECONFIG={state.kubeconfig}")
    return 0


def _cmd_dev_suanli(args: argparse.Namespace) -> int:
    from suanli.devcluster import components, statefile

    state = statefile.read_state(args.state_dir)
    if state is None:
        raise ClusterError(f"no local control plane in {args.state_dir}; run `suanli dev up` first")
    components.start_suanli(state)
    print(
        "ComputeJob CRD installed; extender and operator running (logs under "
        f"{state.state_dir}/logs)"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from suanli.devcluster import cluster, components, demo, nodes
    from suanli.devcluster.tools import repo_root

    state, running = cluster.status(args.state_dir)
    if state is None or not running:
        state = cluster.up(cluster.UpOptions(state_dir=args.state_dir))
        fleet = _fleet_from_args(args)
        count = nodes.apply_fleet(Path(state.kubeconfig), fleet)
        seconds = nodes.wait_nodes_ready(Path(state.kubeconfig), count)
        up = f"control plane up in {state.start_seconds:.1f} s"
        print(f"{up}; {count} nodes Ready in {seconds:.1f} s")
    if not any(r.name == "suanli-operator" for r in running or []):
        state = components.start_suanli(state)
        print("Suanli extender and operator started")
    examples = args.examples or repo_root() / "examples"
    names = demo.apply_examples(state, examples)
    print(f"submitted {', '.join(names)} to namespace {demo.NAMESPACE}")
    finished = demo.wait_finished(state, args.timeout, lambda line: print(f"  {line}"))
    print()
    print(demo.placement_table(finished))
    print(f"\nexport KUBECONFIG={state.kubeconfig}   # kubectl get computejobs -n {demo.NAMESPACE}")
    return 0 if all(j.get("status", {}).get("phase") == "Succeeded" for j in finished) else 1


def _cmd_dev_down(args: argparse.Namespace) -> int:
    from suanli.devcluster import cluster

    state = cluster.down(args.state_dir)
    print("no local control plane was running" if state is None else "local control plane stopped")
    return 0


def _cmd_dev_status(args: argparse.Namespace) -> int:
    from suanli.devcluster import cluster

    state, running = cluster.status(args.state_dir)
    if state is None:
        print(f"no local control plane in {args.state_dir}")
        return EXIT_NOT_RUNNING
    alive = {record.name for record in running}
    for record in state.processes:
        state_word = "running" if record.name in alive else "STOPPED"
        print(f"{record.name:24} pid {record.pid:<8} {state_word}")
    print(f"apiserver  {state.server}")
    print(f"kubeconfig {state.kubeconfig}")
    return 0 if len(running) == len(state.processes) else EXIT_NOT_RUNNING


def _cmd_dev_kubeconfig(args: argparse.Namespace) -> int:
    from suanli.devcluster import statefile

    state = statefile.read_state(args.state_dir)
    if state is None:
        print(f"no local control plane in {args.state_dir}; run `suanli dev up`", file=sys.stderr)
        return EXIT_NOT_RUNNING
    print(state.kubeconfig)
    return 0


def _cmd_fleet_render(args: argparse.Namespace) -> int:
    fleet = _fleet_from_args(args)
    yaml.safe_dump_all(node_manifests(fleet), sys.stdout, sort_keys=False)
    return 0


def _cmd_fleet_apply(args: argparse.Namespace) -> int:
    from suanli.devcluster import nodes

    fleet = _fleet_from_args(args)
    count = nodes.apply_fleet(args.kubeconfig, fleet)
    seconds = nodes.wait_nodes_ready(args.kubeconfig, count)
    print(f"fleet {fleet.name!r}: {count} nodes Ready in {seconds:.1f} s")
    return 0


def build_parser(prog: str = "suanli") -> argparse.ArgumentParser:
    from suanli.devcluster.statefile import default_state_dir

    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--version", action="version", version=f"suanli {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev", help="a local control plane (etcd, apiserver, schedulers, KWOK)"
    )
    dev.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where pids, certificates, logs and the kubeconfig live (env SUANLI_DEV_DIR)",
    )
    dev_commands = dev.add_subparsers(dest="dev_command", required=True)
    up = dev_commands.add_parser("up", help="start the control plane and register the fleet")
    _add_fleet_options(up)
    up.add_argument("--no-fleet", action="store_true", help="start without registering nodes")
    up.add_argument("--apiserver-port", type=int, help="fixed apiserver port (default: a free one)")
    up.add_argument(
        "--extender-port",
        type=int,
        help="port the suanli-scheduler calls the extender on (default: a free one)",
    )
    up.set_defaults(handler=_cmd_dev_up)
    dev_commands.add_parser(
        "suanli", help="install the CRD and start the extender and the operator"
    ).set_defaults(handler=_cmd_dev_suanli)
    dev_commands.add_parser("down", help="stop every daemon").set_defaults(handler=_cmd_dev_down)
    dev_commands.add_parser("status", help="show the daemons").set_defaults(handler=_cmd_dev_status)
    dev_commands.add_parser("kubeconfig", help="print the admin kubeconfig path").set_defaults(
        handler=_cmd_dev_kubeconfig
    )

    demo = commands.add_parser(
        "demo", help="run the example ComputeJobs on the local fleet and show the placements"
    )
    _add_fleet_options(demo)
    demo.add_argument("--state-dir", type=Path, default=default_state_dir(), help=argparse.SUPPRESS)
    demo.add_argument(
        "--examples", type=Path, help="folder of ComputeJob manifests (default: examples/)"
    )
    demo.add_argument("--timeout", type=float, default=180, help="seconds to wait for the jobs")
    demo.set_defaults(handler=_cmd_demo)

    fleet = commands.add_parser("fleet", help="render or register a fleet of fake nodes")
    fleet_commands = fleet.add_subparsers(dest="fleet_command", required=True)
    render = fleet_commands.add_parser("render", help="print the fleet's Node objects as YAML")
    _add_fleet_options(render)
    render.set_defaults(handler=_cmd_fleet_render)
    apply = fleet_commands.add_parser("apply", help="create the fleet's nodes in a cluster")
    _add_fleet_options(apply)
    apply.add_argument("--kubeconfig", type=Path, required=True)
    apply.set_defaults(handler=_cmd_fleet_apply)
    from suanli.extender.command import add_extender

    add_extender(commands)
    from suanli.simulate.cli import add_simulate

    add_simulate(commands)
    from suanli.controller.command import add_operator

    add_operator(commands)
    from suanli.controller.plan_command import add_plan
    from suanli.plugin.commands import add_commands
    from suanli.ui.command import add_ui

    add_commands(commands)
    add_plan(commands)
    add_ui(commands)
    return parser


def kubectl_main(argv: Sequence[str] | None = None) -> int:
    """`kubectl suanli ...`: kubectl runs `kubectl-suanli` from the PATH with the words after
    `kubectl suanli`; the same commands answer under kubectl's name."""
    return main(argv, prog="kubectl suanli")


def main(argv: Sequence[str] | None = None, prog: str = "suanli") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        return int(args.handler(args))
    except (ClusterError, FleetError) as error:
        print(f"suanli: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
