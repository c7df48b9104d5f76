"""The `explain` and `top` subcommands: read the cluster once, explain, print.

Shared by `suanli` and `kubectl suanli` (kubectl runs `kubectl-suanli` from the PATH with the
words after `kubectl suanli`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.plugin.fetch import ClusterRead, client_for, feed_of, judging_of
from suanli.view import explain_job, fleet_rows, node_cells, queue_rows
from suanli.view.render import as_data, explain_text, top_text

EXIT_NOT_FOUND = 4


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, help="default: $KUBECONFIG, ~/.kube/config")
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="text or json"
    )
    parser.add_argument("--catalog", type=Path, help="accelerator catalog (default: built-in)")
    parser.add_argument("--latency", type=Path, help="site latency map (default: built-in)")
    parser.add_argument("--data-policy", type=Path, help="data policy (default: built-in)")


def _files(args: argparse.Namespace) -> ScoringConfigFiles:
    return ScoringConfigFiles(args.catalog, args.latency, args.data_policy)


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.output == "json":
        json.dump(as_data(data), sys.stdout, indent=2, sort_keys=True, default=str)
        print()
    else:
        print(text)


def cmd_top(args: argparse.Namespace) -> int:
    read = ClusterRead(client_for(args.kubeconfig))
    feed = feed_of(read, _files(args))
    fleet = fleet_rows(node_cells(feed.state))
    queues = queue_rows(read.queues())
    _print(args, {"fleet": fleet, "queues": queues}, top_text(fleet, queues))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    read = ClusterRead(client_for(args.kubeconfig))
    job = read.job(args.namespace, args.job)
    if job is None:
        print(f"no ComputeJob {args.job!r} in namespace {args.namespace!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    files = _files(args)
    feed = feed_of(read, files)
    explained = explain_job(job, read.job_pods(args.namespace, args.job), judging_of(feed, files))
    _print(args, explained, explain_text(explained))
    return 0


def add_commands(commands: Any) -> None:
    top = commands.add_parser(
        "top", help="the fleet by accelerator x tier x site, and the queues against their quota"
    )
    _add_common(top)
    top.set_defaults(handler=cmd_top)
    explain = commands.add_parser(
        "explain", help="where a ComputeJob's pods went and why, or why it waits"
    )
    explain.add_argument("job", help="the ComputeJob's name")
    explain.add_argument("-n", "--namespace", default="default", help="its namespace")
    _add_common(explain)
    explain.set_defaults(handler=cmd_explain)
