"""A small fleet in a feed, and pods on it, for the view's tests."""

from __future__ import annotations

import json
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.fleet import node_manifests, parse_fleet
from suanli.state import ClusterFeed

FLEET = parse_fleet(
    {
        "pools": [
            {
                "name": "h100",
                "count": 2,
                "gpu": {"product": "NVIDIA-H100-80GB-HBM3", "count": 8, "memoryMiB": 81559},
                "region": "us-east-1",
                "zone": "us-east-1a",
            },
            {
                "name": "t4-edge",
                "count": 3,
                "tier": "edge",
                "site": "sh-edge-1",
                "gpu": {"product": "Tesla-T4", "count": 1, "memoryMiB": 15360},
            },
            {"name": "cpu", "count": 2, "region": "us-east-1", "zone": "us-east-1c"},
        ]
    }
)
FILES = ScoringConfigFiles(None, None)


def feed(pods: list[dict[str, Any]] | None = None) -> ClusterFeed:
    made = ClusterFeed(lambda: FILES.catalog)
    made.replace_nodes(list(node_manifests(FLEET)))
    made.replace_pods(pods or [])
    return made


def pod(
    name: str,
    node: str | None,
    gpus: int = 1,
    *,
    resource: str = "nvidia.com/gpu",
    milli: int | None = None,
    job: str = "j",
    phase: str = "Running",
    placement: dict[str, Any] | None = None,
    demand: dict[str, Any] | None = None,
) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if milli is not None:
        annotations["suanli.dev/gpu-milli"] = str(milli)
    if placement is not None:
        annotations["suanli.dev/placement"] = json.dumps(placement)
    if demand is not None:
        annotations["suanli.dev/demand"] = json.dumps(demand)
    # A share asks for no whole device: the annotation is its whole request.
    requests = {"cpu": "1"} if milli is not None else {resource: str(gpus)}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": requests}}]}
    if node:
        spec["nodeName"] = node
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"suanli.dev/job": job},
            "annotations": annotations,
        },
        "spec": spec,
        "status": {"phase": phase},
    }
