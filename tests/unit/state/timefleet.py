"""A small fleet for the time tests: four 8-GPU H100 nodes, jobs as pods on them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.fleet import default_fleet, node_manifests
from suanli.scoring import PodDemand, parse_pod
from suanli.state import ClusterFeed
from suanli.state.earliest import Candidate, Planner

FILES = ScoringConfigFiles(None, None)
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
NODES = ("h100-use1-0", "h100-use1-1", "h100-use1-2", "h100-use1-3")


def minutes(n: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=n)


def feed_of(running: dict[str, tuple[str, int]] | None = None) -> ClusterFeed:
    """The H100 nodes, with `running` pods: pod name -> (node, GPUs)."""
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(
        [n for n in node_manifests(default_fleet()) if n["metadata"]["name"] in NODES]
    )
    feed.replace_pods([_bound(name, node, gpus) for name, (node, gpus) in (running or {}).items()])
    return feed


def _bound(name: str, node: str, gpus: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team", "labels": {"suanli.dev/job": name}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
        },
        "status": {"phase": "Running"},
    }


def demands(job: str, replicas: int, gpus: int) -> list[PodDemand]:
    body = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": job, "namespace": "team", "uid": f"uid-{job}"},
        "spec": {
            "tasks": [
                {
                    "name": "w",
                    "replicas": replicas,
                    "accelerators": {"count": gpus, "types": ["H100"]},
                    "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                }
            ]
        },
    }
    parsed = ComputeJob.model_validate(body)
    meta = body["metadata"]
    return [
        parse_pod(pod_manifest(parsed, dict(meta), s, FILES.catalog)) for s in slots(parsed, job)
    ]


def candidate(
    job: str, replicas: int, gpus: int, limit: float | None = None, expected: float | None = None
) -> Candidate:
    return Candidate(f"team/{job}", demands(job, replicas, gpus), replicas, limit, expected)


def planner(feed: ClusterFeed) -> Planner:
    return Planner(feed, FILES.catalog, FILES.latency)
