"""Watch events in, state deltas out: the `ClusterState` of a process that watches a cluster.

Nodes are parsed once per update, pods once per event; each event changes only the node it
concerns. Pods the extender has just bound ("assumed") count on their node until the watch
confirms them or a deadline passes; pending pods the operator planned on a node ("reserved")
count there until they are bound or gone. The extender and the operator each run one feed; the
simulator feeds its state from a trace instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from suanli.scoring import (
    Allocation,
    NodeSnapshot,
    Shape,
    Snapshot,
    Workload,
    node_facts,
    with_pressure,
)
from suanli.scoring.catalog import Catalog
from suanli.scoring.errors import ScoringInputError
from suanli.scoring.snapshot import PlacedPod
from suanli.state.cluster import ClusterState
from suanli.state.decide import Decider
from suanli.state.objects import placed_pod, pod_key, pod_shape, slim_node

__all__ = [
    "ASSUME_TTL_SECONDS",
    "HOLD_TTL_SECONDS",
    "CapacityListener",
    "ClusterFeed",
    "placed_pod",
    "pod_key",
    "pod_shape",
    "slim_node",
]

# A pod bound here but not yet seen bound by the watch counts on its node for this long.
ASSUME_TTL_SECONDS = 60.0
# A node offered by the filter is held for its pod until the bind comes (kube-scheduler binds
# within milliseconds unless it gives the pod up); a pod deleted while pending is not seen by a
# watch of bound pods, so its hold must end by itself, and soon.
HOLD_TTL_SECONDS = 15.0

# Called with the node whose capacity grew (a pod left it, or it appeared or changed).
CapacityListener = Callable[[str], None]


class ClusterFeed:
    """Keeps a `ClusterState` (and its `Decider`) in step with node and pod watches."""

    def __init__(self, catalog: Callable[[], Catalog], clock: Callable[[], float] = time.monotonic):
        self._catalog = catalog
        self._clock = clock
        self.state = ClusterState()
        self.decider = Decider(self.state)
        self._nodes: dict[str, Mapping[str, Any]] = {}
        self.bad_nodes: dict[str, str] = {}
        self._assumed: dict[str, float] = {}
        # Pending pods counted on the node the operator planned them on (see `reserve`).
        self._reserved: set[str] = set()
        self._facts_catalog: Catalog | None = None
        self._workload: tuple[int, Workload] | None = None
        self.listeners: list[CapacityListener] = []

    @property
    def lock(self) -> Any:
        return self.state.lock

    # --- nodes ---------------------------------------------------------------------------------

    def replace_nodes(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            self._nodes = {str(n["metadata"]["name"]): slim_node(n) for n in nodes}
            self._reparse_all()

    def apply_node(self, event: str, node: Mapping[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        with self.lock:
            if event == "DELETED":
                self._nodes.pop(name, None)
                self.bad_nodes.pop(name, None)
                self.state.remove_node(name)
                return
            slim = slim_node(node)
            if self._nodes.get(name) == slim and (
                name in self.state.nodes or name in self.bad_nodes
            ):
                return  # a status heartbeat: nothing its facts are read from has changed
            self._nodes[name] = slim
            changed = self._parse(name)
        # Heartbeats change nothing the scheduler reads: only new or changed nodes are news.
        if changed:
            self._notify(name)

    def _parse(self, name: str) -> bool:
        """Read a node's facts into the state; True when they are new or changed."""
        try:
            facts = node_facts(self._nodes[name], self._catalog())
        except ScoringInputError as error:
            # A node whose labels or capacity cannot be read is left out, with the reason kept.
            self.state.remove_node(name)
            self.bad_nodes[name] = str(error)
            return False
        self.bad_nodes.pop(name, None)
        return self.state.set_node(facts)

    def _reparse_all(self) -> None:
        self._facts_catalog = self._catalog()
        self.bad_nodes.clear()
        self.state.clear_nodes()
        for name in self._nodes:
            self._parse(name)

    def refresh_catalog(self) -> None:
        """Re-read every node's facts once the catalog has been replaced."""
        with self.lock:
            if self._facts_catalog is not self._catalog():
                self._reparse_all()

    # --- pods ----------------------------------------------------------------------------------

    def replace_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            state = self.state
            # Assumptions wait for the watch; reservations come from the watch of pending pods.
            own = [*self._assumed, *self._reserved]
            keep = {k: (state.pods[k], state.shape_of(k)) for k in own if k in state.pods}
            listed: dict[str, tuple[PlacedPod, Shape | None]] = {}
            for pod in pods:
                placed = placed_pod(pod)
                if placed is not None:
                    listed[placed.key] = (placed, self._shape(pod))
            self._reserved.difference_update(listed)
            for key, held in keep.items():
                listed.setdefault(key, held)
            for key in [k for k in state.pods if k not in listed]:
                state.set_pod(key, None)
            for key, (placed, shape) in listed.items():
                if state.pods.get(key) != placed:
                    state.set_pod(key, placed, shape)

    def apply_pod(self, event: str, pod: Mapping[str, Any]) -> None:
        key = pod_key(pod)
        with self.lock:
            placed = None if event == "DELETED" else placed_pod(pod)
            if placed is None and key in self._assumed and event != "DELETED":
                # An event older than our binding: keep the assumption until the watch catches up.
                return
            self._assumed.pop(key, None)
            # The bound pods' news wins over a reservation of the same pod.
            self._reserved.discard(key)
            old = self.state.pods.get(key)
            if old == placed:
                return
            self.state.set_pod(key, placed, self._shape(pod) if placed is not None else None)
        if old is not None and (placed is None or placed.node != old.node):
            self._notify(old.node)

    def assume(
        self,
        pod: Mapping[str, Any],
        node: str,
        devices: Allocation | None = None,
        ttl: float = ASSUME_TTL_SECONDS,
    ) -> None:
        """Count a pod on `node` right after binding it (or once the filter offered only that
        node), before the watch reports the binding; `devices` are the ones chosen for it."""
        placed = placed_pod(pod, node, devices)
        if placed is None:
            return
        with self.lock:
            self._assumed[placed.key] = self._clock() + ttl
            self._reserved.discard(placed.key)
            self.state.set_pod(placed.key, placed, self._shape(pod))

    def forget(self, pod: Mapping[str, Any]) -> None:
        """Take back an assumption whose binding failed, or the pod's reservation while it is
        being placed (unless the watch has since shown the pod bound: then its view stands)."""
        key = pod_key(pod)
        with self.lock:
            if self._assumed.pop(key, None) is not None or key in self._reserved:
                self._reserved.discard(key)
                self.state.set_pod(key, None)

    def reserve(self, pod: Mapping[str, Any], node: str) -> None:
        """A pending pod the operator planned on `node` (a gang member): its room there counts as
        taken, so that other pods go elsewhere, until it is bound, placed or gone. A pod the
        state already holds bound, assumed or held keeps that view."""
        placed = placed_pod(pod, node)
        if placed is None:
            return
        with self.lock:
            key = placed.key
            old = self.state.pods.get(key)
            if old is not None and key not in self._reserved:
                return
            self._reserved.add(key)
            if old != placed:
                self.state.set_pod(key, placed, self._shape(pod))

    def unreserve(self, pod: Mapping[str, Any]) -> None:
        """The pending pod was bound, deleted or planned no more: its reservation ends."""
        key = pod_key(pod)
        with self.lock:
            if key not in self._reserved:
                return
            self._reserved.discard(key)
            old = self.state.pods.get(key)
            self.state.set_pod(key, None)
        if old is not None:
            self._notify(old.node)

    def replace_reserved(self, reservations: Iterable[tuple[Mapping[str, Any], str]]) -> None:
        """A fresh list of the reserved pods (pod, planned node): the others' reservations end."""
        listed = list(reservations)
        keys = {pod_key(pod) for pod, _ in listed}
        with self.lock:
            for key in [k for k in self._reserved if k not in keys]:
                self._reserved.discard(key)
                self.state.set_pod(key, None)
            for pod, node in listed:
                self.reserve(pod, node)

    def _shape(self, pod: Mapping[str, Any]) -> Shape | None:
        return pod_shape(pod, self._catalog())

    def expire_assumed(self) -> None:
        now = self._clock()
        with self.lock:
            for key in [k for k, deadline in self._assumed.items() if deadline < now]:
                del self._assumed[key]
                self.state.set_pod(key, None)

    def _notify(self, node: str) -> None:
        for listener in self.listeners:
            listener(node)

    # --- reads ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before a decision: catalog reloads applied, stale assumptions dropped."""
        self.refresh_catalog()
        self.expire_assumed()

    def workload(self) -> Workload:
        """The typical shapes of the placed pods, with the pressure on each accelerator type
        from the idle capacity now; recomputed only after the state changed."""
        with self.lock:
            generation = self.state.generation
            if self._workload is None or self._workload[0] != generation:
                workload = with_pressure(self.state.histogram.workload(), self.state.idle_by_type())
                self._workload = (generation, workload)
            return self._workload[1]

    def node_annotations(self, name: str) -> Mapping[str, str]:
        """The node's annotations as last seen (a sharing stack's device registry lives
        there); empty for an unknown node."""
        with self.lock:
            node = self._nodes.get(name) or {}
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        return {str(k): str(v) for k, v in annotations.items()}

    def node(self, name: str) -> NodeSnapshot | None:
        return self.state.node_snapshot(name)

    def snapshot(self) -> Snapshot:
        """The whole state as the reference `Snapshot` (O(nodes): for tests and tools, never
        for a scheduling decision)."""
        with self.lock:
            self.prepare()
            state = self.state
            nodes = tuple(state.nodes[n].snapshot() for n in state.names())
            return Snapshot(nodes, tuple(state.pods[k] for k in sorted(state.pods)))

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "nodes": len(self._nodes),
                "pods": len(self.state.pods),
                "assumed": len(self._assumed),
                "reserved": len(self._reserved),
            }
