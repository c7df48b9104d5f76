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

from suanli.scoring import NodeFacts, NodeSnapshot, NodeUsage, Resources, Snapshot, node_facts
from suanli.scoring.catalog import Catalog
from suanli.scoring.demand import job_of
from suanli.scoring.errors import ScoringInputError
from suanli.scoring.resources import EMPTY, pod_requests
from suanli.scoring.snapshot import PlacedPod

# A pod bound here but not yet seen bound by the watch counts on its node for this long.
ASSUME_TTL_SECONDS = 60.0
_TERMINAL = frozenset({"Succeeded", "Failed"})


def pod_key(pod: Mapping[str, Any]) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or ''}"


def placed_pod(pod: Mapping[str, Any], node: str | None = None) -> PlacedPod | None:
    """What a pod holds on its node, or None when it holds nothing (unbound or finished)."""
    node = node or (pod.get("spec") or {}).get("nodeName")
    if not node or (pod.get("status") or {}).get("phase") in _TERMINAL:
        return None
    try:
        requests = pod_requests(pod)
    except ScoringInputError:
        requests = EMPTY
    return PlacedPod(pod_key(pod), str(node), job_of(pod), requests)


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
        self._facts_catalog: Catalog | None = None
        self._snapshot: Snapshot | None = None

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
        self._names = sorted(self._facts)
        self._snapshot = None

    # --- pods ----------------------------------------------------------------------------------

    def replace_pods(self, pods: list[dict[str, Any]]) -> None:
        with self._lock:
            assumed = {k: self._placed[k] for k in self._assumed if k in self._placed}
            self._placed = {}
            self._usage = {}
            for pod in pods:
                self._set(pod_key(pod), placed_pod(pod))
            for key, placed in assumed.items():
                if key not in self._placed:
                    self._set(key, placed)
            self._snapshot = None

    def apply_pod(self, event: str, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        with self._lock:
            placed = None if event == "DELETED" else placed_pod(pod)
            if placed is None and key in self._assumed and event != "DELETED":
                # An event older than our binding: keep the assumption until the watch catches up.
                return
            self._assumed.pop(key, None)
            self._set(key, placed)
            self._snapshot = None

    def assume(self, pod: Mapping[str, Any], node: str) -> None:
        """Count a pod on `node` right after binding it, before the watch reports the binding."""
        placed = placed_pod(pod, node)
        if placed is None:
            return
        with self._lock:
            self._assumed[placed.key] = self._clock() + ASSUME_TTL_SECONDS
            self._set(placed.key, placed)
            self._snapshot = None

    def _set(self, key: str, placed: PlacedPod | None) -> None:
        old = self._placed.pop(key, None)
        if old is not None:
            requested, count = self._usage.get(old.node, (EMPTY, 0))
            self._usage[old.node] = (requested - old.requests, count - 1)
        if placed is not None:
            self._placed[key] = placed
            requested, count = self._usage.get(placed.node, (EMPTY, 0))
            self._usage[placed.node] = (requested + placed.requests, count + 1)

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
                    NodeSnapshot(self._facts[name], NodeUsage(*self._usage.get(name, (EMPTY, 0))))
                    for name in self._names
                )
                self._snapshot = Snapshot(nodes, tuple(self._placed.values()))
            return self._snapshot

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "nodes": len(self._nodes),
                "pods": len(self._placed),
                "assumed": len(self._assumed),
            }
