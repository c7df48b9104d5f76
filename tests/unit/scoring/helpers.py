"""Builders for Node and Pod objects as plain dicts, the shape the API returns."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

from suanli.fleet import load_fleet, node_manifests
from suanli.keys import DEMAND_ANNOTATION, JOB_LABEL
from suanli.scoring import (
    Catalog,
    LatencyMap,
    NodeSnapshot,
    NodeUsage,
    PodDemand,
    Resources,
    node_facts,
    parse_catalog,
    parse_latency,
    parse_pod,
)

DATA = resources.files("suanli.data")


def default_catalog() -> Catalog:
    return parse_catalog(DATA.joinpath("catalog.yaml").read_text(encoding="utf-8"))


def default_latency() -> LatencyMap:
    return parse_latency(DATA.joinpath("latency.yaml").read_text(encoding="utf-8"))


def fleet_nodes() -> list[dict[str, Any]]:
    path = Path(str(DATA.joinpath("fleet.yaml")))
    return list(node_manifests(load_fleet(path)))


def node(
    name: str,
    labels: dict[str, str] | None = None,
    allocatable: dict[str, str] | None = None,
    price: float | None = None,
) -> dict[str, Any]:
    annotations = {} if price is None else {"suanli.dev/price-per-hour": f"{price:g}"}
    return {
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations},
        "status": {"allocatable": allocatable or {"cpu": "32", "memory": "128Gi", "pods": "110"}},
    }


class GpuModel(TypedDict):
    product: str
    count: int
    memory_mib: int
    price: float


T4: GpuModel = {"product": "Tesla-T4", "count": 4, "memory_mib": 15360, "price": 3.91}
A100: GpuModel = {
    "product": "NVIDIA-A100-SXM4-80GB",
    "count": 8,
    "memory_mib": 81920,
    "price": 40.96,
}
L40S: GpuModel = {"product": "NVIDIA-L40S", "count": 4, "memory_mib": 46068, "price": 7.32}


def gpu_node(
    name: str,
    product: str = "NVIDIA-H100-80GB-HBM3",
    count: int = 8,
    memory_mib: int = 81559,
    price: float | None = 98.32,
) -> dict[str, Any]:
    """An NVIDIA node as GPU Feature Discovery labels it (an 8 x H100 server by default)."""
    return node(
        name,
        {
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.count": str(count),
            "nvidia.com/gpu.memory": str(memory_mib),
        },
        {"cpu": "96", "memory": "1Ti", "pods": "110", "nvidia.com/gpu": str(count)},
        price,
    )


def pod(
    requests: dict[str, str] | None = None,
    demand: dict[str, Any] | None = None,
    *,
    name: str = "p",
    namespace: str = "team-a",
    job: str | None = None,
    node_name: str | None = None,
    phase: str | None = None,
) -> dict[str, Any]:
    annotations = {DEMAND_ANNOTATION: json.dumps(demand)} if demand is not None else {}
    labels = {JOB_LABEL: job} if job else {}
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "resources": {"requests": requests or {}}}]
    }
    if node_name:
        spec["nodeName"] = node_name
    result: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }
    if phase:
        result["status"] = {"phase": phase}
    return result


def demand(requests: dict[str, str] | None = None, **spec: Any) -> PodDemand:
    return parse_pod(pod(requests, spec))


def snap(
    raw: dict[str, Any], catalog: Catalog, used: dict[str, int] | None = None, pods: int = 0
) -> NodeSnapshot:
    """One node with some usage already on it (cpu in milli, memory in bytes)."""
    return NodeSnapshot(node_facts(raw, catalog), NodeUsage(Resources(used or {}), pods))
