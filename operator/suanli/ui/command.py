"""The `suanli ui` subcommand's options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_ui(args: argparse.Namespace) -> int:
    from suanli.ui.process import UiSettings, run

    run(
        UiSettings(
            host=args.host,
            port=args.port,
            kubeconfig=args.kubeconfig,
            catalog=args.catalog,
            interval=args.interval,
        )
    )
    return 0


def add_ui(commands: Any) -> None:
    ui = commands.add_parser("ui", help="a live web view of the fleet, queues and jobs")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ui.add_argument("--port", type=int, default=8090, help="port to listen on")
    ui.add_argument("--kubeconfig", type=Path, help="default: the in-cluster service account")
    ui.add_argument("--catalog", type=Path, help="accelerator catalog (default: built-in)")
    ui.add_argument(
        "--interval", type=float, default=1.0, help="seconds between updates sent to browsers"
    )
    ui.set_defaults(handler=_cmd_ui)
