"""The `suanli` command line (also `python -m suanli`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanli import __version__
from suanli.devcluster.processes import ClusterError
from suanli.fleet import Fleet, FleetError, load_fleet, node_manifests, parse_fleet, scale_fleet

EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3


def default_fleet() -> Fleet:
    text = resources.files("suanli.data").joinpath("fleet.yaml").read_text()
    return parse_fleet(yaml.safe_load(text), "suanli/data/fleet.yaml")


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
    from suanli.devcluster import cluster, components

    state = cluster.read_state(args.state_dir)
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
    from suanli.devcluster import cluster

    state = cluster.read_state(args.state_dir)
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


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from a Go duration as kube-scheduler's configuration writes it (`5s`, `2500ms`,
    `1m30s`), or a bare number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a duration; write e.g. 5s, 2500ms or 1m30s"
            ) from None
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be positive")
    return seconds


def _cmd_extender(args: argparse.Namespace) -> int:
    import logging

    from suanli.devcluster import cluster
    from suanli.extender import process
    from suanli.extender.settings import ExtenderSettings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    kubeconfig, port = args.kubeconfig, args.port
    if args.dev:
        state = cluster.read_state(args.state_dir)
        if state is None:
            raise ClusterError(
                f"--dev: no local control plane in {args.state_dir}; run `suanli dev up`"
            )
        kubeconfig, port = Path(state.kubeconfig), state.ports.extender
    settings = ExtenderSettings(
        host=args.host,
        port=port,
        kubeconfig=kubeconfig,
        catalog=args.catalog,
        latency=args.latency,
        data_policy=args.data_policy,
        filter_top_k=args.filter_top_k,
        scheduler_http_timeout=args.scheduler_http_timeout,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
        tls_client_ca_file=args.tls_client_ca_file,
        scheduler_names=tuple(args.scheduler_name or ("suanli-scheduler",)),
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        advertise_url=args.advertise_url,
        peer_cert_file=args.peer_cert_file,
        peer_key_file=args.peer_key_file,
        peer_ca_file=args.peer_ca_file,
        peer_server_name=args.peer_server_name,
        shutdown_grace_seconds=args.shutdown_grace,
    )
    process.run(settings)
    return 0


def _cmd_operator(args: argparse.Namespace) -> int:
    import logging

    from suanli.controller.run import OperatorSettings, run
    from suanli.devcluster import cluster

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    kubeconfig = args.kubeconfig
    if args.dev:
        state = cluster.read_state(args.state_dir)
        if state is None:
            raise ClusterError(
                f"--dev: no local control plane in {args.state_dir}; run `suanli dev up`"
            )
        kubeconfig = Path(state.kubeconfig)
    settings = OperatorSettings(
        kubeconfig=kubeconfig,
        namespace=args.namespace,
        leader_elect=args.leader_elect,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        catalog=args.catalog,
        latency=args.latency,
        data_policy=args.data_policy,
        webhook_port=args.webhook_port,
        webhook_addr=args.webhook_addr,
        webhook_host=args.webhook_host,
        edge_tolerations=args.edge_tolerations,
        webhook_cert_dir=args.webhook_cert_dir,
        webhook_failure_policy=args.webhook_failure_policy,
        **({"identity": args.identity} if args.identity else {}),
    )
    return run(settings)


def _add_operator(commands: Any) -> None:
    from suanli.controller.edge import DEFAULT_EDGE_TOLERATIONS, parse_tolerations
    from suanli.devcluster.cluster import default_state_dir

    operator = commands.add_parser("operator", help="run the ComputeJob operator (kopf)")
    operator.add_argument("--kubeconfig", type=Path, help="default: the in-cluster service account")
    operator.add_argument(
        "--namespace", default="suanli-system", help="namespace of the leader Lease"
    )
    operator.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take a coordination.k8s.io Lease before acting (several replicas can run)",
    )
    operator.add_argument(
        "--webhook-port", type=int, default=0, help="serve the validating webhook here (0: off)"
    )
    operator.add_argument(
        "--webhook-addr", default="127.0.0.1", help="address the webhook listens on"
    )
    operator.add_argument(
        "--webhook-host", default="127.0.0.1", help="host the apiserver calls the webhook by"
    )
    operator.add_argument(
        "--webhook-cert-dir",
        type=Path,
        help="tls.crt, tls.key and ca.crt shared by all replicas (default: a CA of this process)",
    )
    operator.add_argument(
        "--webhook-failure-policy",
        choices=("Ignore", "Fail"),
        default="Ignore",
        help="what the apiserver does when no replica answers a review",
    )
    operator.add_argument("--identity", help="leader-election identity (default: the host name)")
    operator.add_argument(
        "--metrics-host", default="0.0.0.0", help="address for /metrics, /healthz and /readyz"
    )
    operator.add_argument(
        "--metrics-port", type=int, default=8080, help="port for /metrics, /healthz and /readyz"
    )
    operator.add_argument(
        "--catalog", type=Path, help="accelerator catalog file (re-read on change)"
    )
    operator.add_argument("--latency", type=Path, help="site latency map file (re-read on change)")
    operator.add_argument("--data-policy", type=Path, help="data policy file (re-read on change)")

    def edge_tolerations(text: str) -> tuple[str, ...]:
        listed = tuple(t.strip() for t in text.split(",") if t.strip())
        try:
            parse_tolerations(listed)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return listed

    operator.add_argument(
        "--edge-tolerations",
        type=edge_tolerations,
        default=",".join(DEFAULT_EDGE_TOLERATIONS),
        help=(
            "taints that pods of jobs asking for the edge or device tier tolerate, comma-separated "
            "key[=value][:effect] (default: %(default)s; empty: none)"
        ),
    )
    operator.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    operator.add_argument(
        "--dev", action="store_true", help="use the local control plane's kubeconfig"
    )
    operator.add_argument(
        "--state-dir", type=Path, default=default_state_dir(), help=argparse.SUPPRESS
    )
    operator.set_defaults(handler=_cmd_operator)


def _add_extender(commands: Any) -> None:
    from suanli.devcluster.cluster import default_state_dir

    extender = commands.add_parser("extender", help="run the kube-scheduler extender (HTTP)")
    extender.add_argument("--host", default="127.0.0.1", help="address to listen on")
    extender.add_argument("--port", type=int, default=8888, help="port to listen on")
    extender.add_argument("--kubeconfig", type=Path, help="default: the in-cluster service account")
    extender.add_argument(
        "--catalog", type=Path, help="accelerator catalog file (re-read on change)"
    )
    extender.add_argument("--latency", type=Path, help="site latency map file (re-read on change)")
    extender.add_argument("--data-policy", type=Path, help="data policy file (re-read on change)")
    extender.add_argument(
        "--filter-top-k",
        type=int,
        default=1,
        help="feasible nodes the filter keeps, best first (0: all; default 1 = deterministic)",
    )
    extender.add_argument(
        "--scheduler-http-timeout",
        type=parse_duration,
        default=5.0,
        help="kube-scheduler's httpTimeout for this extender (e.g. 5s, 2500ms): binds that "
        "waited most of it are refused rather than sent late",
    )
    extender.add_argument("--tls-cert-file", type=Path, help="serve HTTPS with this certificate")
    extender.add_argument("--tls-key-file", type=Path, help="the certificate's private key")
    extender.add_argument(
        "--tls-client-ca-file",
        type=Path,
        help="mutual TLS: refuse clients without a certificate signed by this CA",
    )
    extender.add_argument(
        "--scheduler-name",
        action="append",
        help="serve pods of this schedulerName (repeatable; default suanli-scheduler)",
    )
    extender.add_argument(
        "--leader-elect",
        action="store_true",
        help="several replicas: the Lease holder decides, the others pass requests on to it",
    )
    extender.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        help="namespace of the Lease (default: env POD_NAMESPACE, else default)",
    )
    extender.add_argument("--lease-name", default="suanli-extender", help="name of the Lease")
    extender.add_argument(
        "--advertise-url",
        help="where the other replicas reach this one, e.g. https://$(POD_IP):8888",
    )
    extender.add_argument(
        "--peer-cert-file", type=Path, help="client certificate presented to the leader"
    )
    extender.add_argument("--peer-key-file", type=Path, help="its private key")
    extender.add_argument(
        "--peer-ca-file",
        type=Path,
        help="CA of the leader's serving certificate (default: --tls-client-ca-file)",
    )
    extender.add_argument(
        "--peer-server-name", help="name checked in the leader's certificate (the Service's)"
    )
    extender.add_argument(
        "--shutdown-grace",
        type=parse_duration,
        default=5.0,
        help="on SIGTERM, after handing the Lease over, how long late requests are still "
        "passed on (default 5s)",
    )
    extender.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    extender.add_argument(
        "--dev", action="store_true", help="serve the local control plane (its kubeconfig and port)"
    )
    extender.add_argument(
        "--state-dir", type=Path, default=default_state_dir(), help=argparse.SUPPRESS
    )
    extender.set_defaults(handler=_cmd_extender)


def build_parser(prog: str = "suanli") -> argparse.ArgumentParser:
    from suanli.devcluster.cluster import default_state_dir

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
    _add_extender(commands)
    from suanli.simulate.cli import add_simulate

    add_simulate(commands)
    _add_operator(commands)
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
