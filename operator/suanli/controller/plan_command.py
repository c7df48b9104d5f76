"""`suanli plan -f job.yaml` (and `kubectl suanli plan`): read the cluster once, plan, print.

Read-only: it lists nodes, pods, ComputeJobs, ComputeQueues, namespaces and PriorityClasses
(the last two are optional: without the right to list them, queue selectors see no labels and
PriorityClass priorities count as missing) and writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from suanli.api import GROUP, PLURAL, VERSION, ComputeJob
from suanli.api.errors import field_errors
from suanli.api.queues import QUEUE_PLURAL
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.plan import Cluster, plan_job
from suanli.controller.plan_answer import Plan, describe
from suanli.kube.client import client_for, raw_json

EXIT_INVALID = 2
EXIT_NEVER = 3


def _items(call: Any, *args: Any) -> list[dict[str, Any]]:
    try:
        response = call(*args, _preload_content=False)
    except ApiException as error:
        if error.status in (403, 404):  # not allowed to list it, or the CRD is not installed
            return []
        raise
    return list(raw_json(response).get("items") or [])


def read_cluster(api: client.ApiClient) -> Cluster:
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    scheduling = client.SchedulingV1Api(api)
    return Cluster(
        nodes=_items(core.list_node),
        pods=_items(core.list_pod_for_all_namespaces),
        jobs=_items(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL),
        queues=_items(custom.list_cluster_custom_object, GROUP, VERSION, QUEUE_PLURAL),
        namespaces=_items(core.list_namespace),
        priority_classes=_items(scheduling.list_priority_class),
    )


def load_job(path: str, namespace: str | None, now: dt.datetime) -> dict[str, Any]:
    """The job file as the apiserver would store it now (namespace, creation time)."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    body = yaml.safe_load(text)
    if not isinstance(body, dict) or body.get("kind") != "ComputeJob":
        raise ValueError(
            f"{path}: not a ComputeJob (kind: ComputeJob, apiVersion: {GROUP}/{VERSION})"
        )
    meta = dict(body.get("metadata") or {})
    meta["namespace"] = namespace or meta.get("namespace") or "default"
    meta.setdefault("name", "planned")
    meta.setdefault("uid", "planned")
    meta["generation"] = 1
    meta["creationTimestamp"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    body["metadata"] = meta
    try:
        ComputeJob.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(str(e) for e in field_errors(error))
        raise ValueError(f"{path}: {problems}") from None
    return body


def as_json(plan: Plan) -> dict[str, Any]:
    data = dataclasses.asdict(plan)
    data["start"] = plan.start.strftime("%Y-%m-%dT%H:%M:%SZ") if plan.start else None
    return data


def table(plan: Plan, now: dt.datetime) -> str:
    lines = describe(plan, now)
    if plan.pods:
        rows = [("POD", "NODE", "SCORE", "BREAKDOWN", "USD/H")]
        rows += [
            (
                p.pod,
                p.node,
                str(p.score),
                " ".join(f"{k}={v:.2f}" for k, v in p.breakdown.items()) or "-",
                f"{p.price_per_hour:.2f}",
            )
            for p in plan.pods
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        body = load_job(args.filename, args.namespace, now)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"suanli plan: {error}", file=sys.stderr)
        return EXIT_INVALID
    files = ScoringConfigFiles(args.catalog, args.latency, args.data_policy)
    plan = plan_job(read_cluster(client_for(args.kubeconfig)), body, files, now)
    if args.output == "json":
        json.dump(as_json(plan), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print(table(plan, now))
    return EXIT_NEVER if plan.verdict == "NeverFits" else 0


def add_plan(commands: Any) -> None:
    plan = commands.add_parser(
        "plan",
        help="what would happen to a ComputeJob now: where it fits, when it would start, "
        "which quota it takes and what it costs (reads the cluster, changes nothing)",
    )
    plan.add_argument("-f", "--filename", required=True, help="the job's YAML file, or - for stdin")
    plan.add_argument("-n", "--namespace", help="default: the file's, else default")
    plan.add_argument("--kubeconfig", type=Path, help="default: $KUBECONFIG, ~/.kube/config")
    plan.add_argument("-o", "--output", choices=("text", "json"), default="text")
    plan.add_argument("--catalog", type=Path, help="accelerator catalog (default: built-in)")
    plan.add_argument("--latency", type=Path, help="site latency map (default: built-in)")
    plan.add_argument("--data-policy", type=Path, help="data policy (default: built-in)")
    plan.set_defaults(handler=cmd_plan)
