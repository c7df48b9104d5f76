"""`suanli operator`: the ComputeJob operator's flags, and its start."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_operator(args: argparse.Namespace) -> int:
    import logging

    from suanli.controller.run import OperatorSettings, run
    from suanli.devcluster import statefile

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    kubeconfig = args.kubeconfig
    if args.dev:
        state = statefile.dev_state(args.state_dir)
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


def add_operator(commands: Any) -> None:
    from suanli.controller.edge import DEFAULT_EDGE_TOLERATIONS, parse_tolerations
    from suanli.devcluster.statefile import default_state_dir

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
