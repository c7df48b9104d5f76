"""The extender's view of the cluster: nodes and bound pods fed by watches, plus the pods this
extender has just bound ("assumed") until the watch confirms them.

Node facts are parsed once per node update, usage is kept per node incrementally, and an
immutable `Snapshot` is built at most once per change, so each scheduling decision reads a
consistent view without parsing the cluster again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from suanli.scoring import (
    MILLI_PER_DEVICE,
    Allocation,
    NodeFacts,
    NodeSnapshot,
    NodeUsage,
    Resources,
    Shape,
    ShapeHistogram,
    Snapshot,
    Workload,
    accepted_types,
    node_facts,
    parse_pod,
    shape_of,
    with_pressure,
)
from suanli.scoring.catalog import Catalog
from suanli.scoring.demand import job_of
from suanli.scoring.errors import ScoringInputError
from suanli.scoring.resources import EMPTY, pod_requests
from suanli.scoring.snapshot import PlacedPod, node_devices, placed_devices

# A pod bound here but not yet seen bound by the watch counts on its node for this long.
ASSUME_TTL_SECONDS = 60.0
_TERMINAL = frozenset({"Succeeded", "Failed"})


def pod_key(pod: Mapping[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or ''}"


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


class ClusterCache:
    def __init__(self, catalog: Callable[[], Catalog], clock: Callable[[], float] = time.monotonic):
        self._catalog = catalog
        self._clock = clock
        self._lock = threading.RLock()
        self._nodes: dict[str, Mapping[str, Any]] = {}
        self._facts: dict[str, NodeFacts] = {}
        self.bad_nodes: dict[str, str] = {}
        self._names: list[str] = []
        self._placed: dict[str, PlacedPod] = {}
        self._assumed: dict[str, float] = {}
        self._usage: dict[str, tuple[Resources, int]] = {}
        # Pods per node, for device usage, which is rebuilt (per node, when its pods change)
        # rather than summed: recorded devices first, then best fits, in pod order.
        self._held: dict[str, dict[str, PlacedPod]] = {}
        self._devices: dict[str, tuple[int, ...] | None] = {}
        # The shapes of the placed pods: the workload packing keeps room for.
        self._shapes: dict[str, Shape | None] = {}
        self.histogram = ShapeHistogram()
        self._facts_catalog: Catalog | None = None
        self._snapshot: Snapshot | None = None
        self._workload: Workload | None = None

    # --- nodes ---------------------------------------------------------------------------------

    def replace_nodes(self, nodes: list[dict[str, Any]]) -> None:
        with self._lock:
            self._nodes = {n["metadata"]["name"]: n for n in nodes}
            self._reparse_all()

    def apply_node(self, event: str, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        with self._lock:
            if event == "DELETED":
                self._nodes.pop(name, None)
                self._facts.pop(name, None)
                self.bad_nodes.pop(name, None)
            else:
                self._nodes[name] = node
                self._parse(name)
            self._devices.pop(name, None)
            self._names = sorted(self._facts)
            self._snapshot = None

    def _parse(self, name: str) -> None:
        try:
            self._facts[name] = node_facts(self._nodes[name], self._catalog())
            self.bad_nodes.pop(name, None)
        except ScoringInputError as error:
            # A node whose labels or capacity cannot be read is left out, with the reason kept.
            self._facts.pop(name, None)
            self.bad_nodes[name] = str(error)

    def _reparse_all(self) -> None:
        self._facts_catalog = self._catalog()
        self._facts.clear()
        self.bad_nodes.clear()
        for name in self._nodes:
            self._parse(name)
        self._devices.clear()
        self._names = sorted(self._facts)
        self._snapshot = None

    # --- pods ----------------------------------------------------------------------------------

    def replace_pods(self, pods: list[dict[str, Any]]) -> None:
        with self._lock:
            assumed = {
                k: (self._placed[k], self._shapes.get(k))
                for k in self._assumed
                if k in self._placed
            }
            self._placed = {}
            self._usage = {}
            self._held = {}
            self._devices = {}
            self._shapes = {}
            self.histogram = ShapeHistogram()
            for pod in pods:
                self._set(pod_key(pod), placed_pod(pod), self._shape(pod))
            for key, (placed, shape) in assumed.items():
                if key not in self._placed:
                    self._set(key, placed, shape)
            self._snapshot = None

    def apply_pod(self, event: str, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        with self._lock:
            placed = None if event == "DELETED" else placed_pod(pod)
            if placed is None and key in self._assumed and event != "DELETED":
                # An event older than our binding: keep the assumption until the watch catches up.
                return
            self._assumed.pop(key, None)
            self._set(key, placed, self._shape(pod) if placed is not None else None)
            self._snapshot = None

    def assume(self, pod: Mapping[str, Any], node: str, devices: Allocation | None = None) -> None:
        """Count a pod on `node` right after binding it, before the watch reports the binding;
        `devices` are the ones chosen for it."""
        placed = placed_pod(pod, node, devices)
        if placed is None:
            return
        with self._lock:
            self._assumed[placed.key] = self._clock() + ASSUME_TTL_SECONDS
            self._set(placed.key, placed, self._shape(pod))
            self._snapshot = None

    def _shape(self, pod: Mapping[str, Any]) -> Shape | None:
        return pod_shape(pod, self._catalog())

    def _set(self, key: str, placed: PlacedPod | None, shape: Shape | None = None) -> None:
        old = self._placed.pop(key, None)
        if old is not None:
            requested, count = self._usage.get(old.node, (EMPTY, 0))
            self._usage[old.node] = (requested - old.requests, count - 1)
            self._held.get(old.node, {}).pop(key, None)
            self._devices.pop(old.node, None)
            self.histogram.remove(self._shapes.pop(key, None))
        if placed is not None:
            self._placed[key] = placed
            requested, count = self._usage.get(placed.node, (EMPTY, 0))
            self._usage[placed.node] = (requested + placed.requests, count + 1)
            self._held.setdefault(placed.node, {})[key] = placed
            self._devices.pop(placed.node, None)
            self._shapes[key] = shape
            self.histogram.add(shape)

    def _expire_assumed(self) -> None:
        now = self._clock()
        for key in [k for k, deadline in self._assumed.items() if deadline < now]:
            del self._assumed[key]
            self._set(key, None)
            self._snapshot = None

    # --- decisions -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """An immutable view for one decision; rebuilt only after something changed."""
        with self._lock:
            if self._facts_catalog is not self._catalog():
                self._reparse_all()
            self._expire_assumed()
            if self._snapshot is None:
                nodes = tuple(
                    NodeSnapshot(
                        self._facts[name],
                        NodeUsage(*self._usage.get(name, (EMPTY, 0)), self._node_devices(name)),
                    )
                    for name in self._names
                )
                self._snapshot = Snapshot(nodes, tuple(self._placed.values()))
                self._workload = None
            return self._snapshot

    def _node_devices(self, name: str) -> tuple[int, ...] | None:
        if name not in self._devices:
            held = self._held.get(name, {}).values()
            self._devices[name] = node_devices(self._facts[name], held)
        return self._devices[name]

    def workload(self) -> Workload:
        """The typical shapes of the placed pods, with the pressure on each accelerator type
        from the idle capacity in the current snapshot."""
        with self._lock:
            snapshot = self.snapshot()
            if self._workload is None:
                self._workload = with_pressure(self.histogram.workload(), idle_by_type(snapshot))
            return self._workload

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "nodes": len(self._nodes),
                "pods": len(self._placed),
                "assumed": len(self._assumed),
            }


def idle_by_type(snapshot: Snapshot) -> dict[str, int]:
    """Idle milli-devices per known accelerator type."""
    idle: dict[str, int] = {}
    for node in snapshot.nodes:
        accelerator = node.facts.accelerator
        if accelerator is None or accelerator.type is None or accelerator.count <= 0:
            continue
        free = accelerator.count * MILLI_PER_DEVICE - sum(node.devices_used())
        idle[accelerator.type.name] = idle.get(accelerator.type.name, 0) + max(0, free)
    return idle
