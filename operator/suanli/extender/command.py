"""`suanli extender`: the kube-scheduler extender's flags, and its start."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

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

    from suanli.devcluster import statefile
    from suanli.extender import process
    from suanli.extender.settings import ExtenderSettings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    kubeconfig, port = args.kubeconfig, args.port
    if args.dev:
        state = statefile.dev_state(args.state_dir)
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


def add_extender(commands: Any) -> None:
    from suanli.devcluster.statefile import default_state_dir

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
