"""What the state reads from Node and Pod objects: a node's slim copy, a pod's key, what a
placed pod holds and the request shape it adds to the workload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.keys import PLANNED_NODE_ANNOTATION
from suanli.scoring import Allocation, Shape, accepted_types, parse_pod, shape_of
from suanli.scoring.catalog import Catalog
from suanli.scoring.demand import job_of
from suanli.scoring.errors import ScoringInputError
from suanli.scoring.resources import EMPTY, pod_requests
from suanli.scoring.snapshot import PlacedPod, placed_devices

_TERMINAL = frozenset({"Succeeded", "Failed"})


def slim_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a Node that its facts are read from (kept to re-read them after a catalog
    change): names, labels, annotations, taints, allocatable and capacity; not the images,
    conditions and managed fields that make most of a Node's size."""
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    return {
        "metadata": {
            key: metadata[key] for key in ("name", "labels", "annotations") if key in metadata
        },
        "spec": {key: spec[key] for key in ("taints",) if key in spec},
        "status": {key: status[key] for key in ("allocatable", "capacity") if key in status},
    }


def pod_key(pod: Mapping[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or ''}"


def planned_node_of(pod: Mapping[str, Any]) -> str | None:
    """The node the operator's plan chose for the pod (its planned-node annotation), if any."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    node = annotations.get(PLANNED_NODE_ANNOTATION)
    return node if isinstance(node, str) and node else None


def placed_pod(
    pod: Mapping[str, Any], node: str | None = None, devices: Allocation | None = None
) -> PlacedPod | None:
    """What a pod holds on its node, or None when it holds nothing (unbound or finished).
    `devices` are the ones just chosen for it, before the annotation comes back by watch."""
    node = node or (pod.get("spec") or {}).get("nodeName")
    if not node or (pod.get("status") or {}).get("phase") in _TERMINAL:
        return None
    try:
        requests = pod_requests(pod)
    except ScoringInputError:
        requests = EMPTY
    milli, recorded = placed_devices(pod, requests)
    return PlacedPod(pod_key(pod), str(node), job_of(pod), requests, milli, devices or recorded)


def pod_shape(pod: Mapping[str, Any], catalog: Catalog) -> Shape | None:
    """The request shape a placed pod adds to the workload (None: no devices, or unreadable)."""
    try:
        demand = parse_pod(pod)
    except ScoringInputError:
        return None
    return shape_of(demand, accepted_types(demand, catalog))
