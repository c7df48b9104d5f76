"""The one model of the cluster as the scheduler sees it, updated by deltas, with a what-if.

Nodes carry their parsed facts and a node class (the facts without the name: nodes of one class
are indistinguishable to every filter and scorer but by name). Each node's usage (requests, pod
count, per-device milli) changes only when one of its pods changes, and is summed up as a usage
state id: nodes of one class with the same state id get the same verdict and score for any pod,
which is what lets a decision evaluate each distinct state once instead of each node.

`what_if()` opens a trial: pods placed or removed inside it are undone when it closes, so gang
planning, queue admission, preemption and backfill can ask "and then?" without a copy.

Pure data: no I/O, no clock; the feed (`suanli.state.feed`) turns watch events into deltas.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from suanli.scoring import MILLI_PER_DEVICE, NodeFacts, NodeSnapshot
from suanli.scoring.shapes import Shape, ShapeHistogram
from suanli.scoring.snapshot import PlacedPod
from suanli.state.entry import NodeEntry, class_of
from suanli.state.usage_index import UsageIndex


class ClusterState(UsageIndex):
    """Nodes, the pods bound (or assumed, or tentatively placed) on them, and their workload."""

    def __init__(self) -> None:
        # Watches write from their threads while decisions read: one lock around both.
        self.lock = threading.RLock()
        self.nodes: dict[str, NodeEntry] = {}
        # Bumped when state ids are renumbered or node classes change: memos keyed by them expire.
        self.epoch = 0
        self.pods: dict[str, PlacedPod] = {}
        self.histogram = ShapeHistogram()
        self._shapes: dict[str, Shape | None] = {}
        self._classes: dict[NodeFacts, int] = {}
        UsageIndex.__init__(self)
        self._by_job: dict[str, dict[str, str]] = {}  # job -> pod key -> node
        self._orphans: dict[str, dict[str, PlacedPod]] = {}  # pods on nodes not known (yet)
        self._idle: dict[str, int] = {}  # idle milli-devices per known accelerator type
        self.idle_version = 0  # bumped whenever that may have changed
        self._names: list[str] | None = []
        self._undo: list[list[tuple[str, PlacedPod | None, Shape | None]]] = []
        self.generation = 0  # bumped by every change
        # Bumped by every change that can give a pod room it had nowhere before (a pod leaves or
        # changes, a node comes or changes): placing pods only takes room, so a pod kind that
        # fit nowhere still fits nowhere while this holds.
        self.freed = 0

    # --- nodes -------------------------------------------------------------------------------

    def set_node(self, facts: NodeFacts) -> bool:
        """Add a node or replace its facts (its pods stay); False when nothing changed."""
        with self.lock:
            old = self.nodes.get(facts.name)
            if old is not None and old.facts == facts:
                return False
            key = class_of(facts)
            if key not in self._classes:
                self._classes[key] = len(self._classes)
                self.epoch += 1
            entry = NodeEntry(facts, self._classes[key])
            if old is not None:
                self._count_idle(old, -1)
                entry.adopt(old.held)
                entry.requested, entry.pod_count = old.requested, old.pod_count
            else:
                self._names = None
                # Pods seen before their node count from now on.
                orphans = self._orphans.pop(facts.name, None)
                if orphans:
                    for pod in orphans.values():
                        entry.requested = entry.requested + pod.requests
                        entry.pod_count += 1
                    entry.adopt(dict(orphans))
            self.nodes[facts.name] = entry
            self.freed += 1
            self.forget_ranks()
            self._restate(entry)
            self._count_idle(entry, 1)
            self.generation += 1
            return True

    def remove_node(self, name: str) -> None:
        with self.lock:
            entry = self.nodes.pop(name, None)
            self.forget_ranks()
            self._leave(name, self.state_of.pop(name, None))
            if entry is not None:
                self._count_idle(entry, -1)
                if entry.held:
                    self._orphans[name] = dict(entry.held)
                self._names = None
                self.generation += 1

    def clear_nodes(self) -> None:
        with self.lock:
            for name in list(self.nodes):
                self.remove_node(name)
            self._classes.clear()
            self._state_ids.clear()
            self.where.clear()
            self._ranks.clear()
            self.rooms.clear()
            self.class_states.clear()
            self._roomiest.clear()
            self.joined.clear()
            self.classes_version += 1
            self.epoch += 1

    def names(self) -> list[str]:
        """Node names, sorted."""
        with self.lock:
            if self._names is None:
                self._names = sorted(self.nodes)
            return self._names

    def entry(self, name: str) -> NodeEntry | None:
        return self.nodes.get(name)

    def node_snapshot(self, name: str) -> NodeSnapshot | None:
        with self.lock:
            entry = self.nodes.get(name)
            return entry.snapshot() if entry is not None else None

    # --- pods --------------------------------------------------------------------------------

    def set_pod(self, key: str, placed: PlacedPod | None, shape: Shape | None = None) -> None:
        """The one mutation of pods: `key` now holds `placed` (None: nothing). Pods on a node
        not (yet) known are kept and count once the node appears."""
        with self.lock:
            old = self.pods.get(key)
            if old is None and placed is None:
                return
            if self._undo:
                self._undo[-1].append((key, old, self._shapes.get(key)))
            self._apply(key, old, placed, shape)

    def shape_of(self, key: str) -> Shape | None:
        return self._shapes.get(key)

    def _apply(
        self, key: str, old: PlacedPod | None, placed: PlacedPod | None, shape: Shape | None
    ) -> None:
        if old is not None:
            self.freed += 1
            del self.pods[key]
            self.histogram.remove(self._shapes.pop(key, None))
            self._unjob(old)
            self._on_node(old, -1)
        if placed is not None:
            self.pods[key] = placed
            self._shapes[key] = shape
            self.histogram.add(shape)
            if placed.job is not None:
                self._by_job.setdefault(placed.job, {})[key] = placed.node
            self._on_node(placed, 1)
        self.generation += 1

    def _unjob(self, pod: PlacedPod) -> None:
        if pod.job is None:
            return
        members = self._by_job.get(pod.job)
        if members is not None:
            members.pop(pod.key, None)
            if not members:
                del self._by_job[pod.job]

    def _on_node(self, pod: PlacedPod, sign: int) -> None:
        entry = self.nodes.get(pod.node)
        if entry is None:
            orphans = self._orphans.setdefault(pod.node, {})
            if sign > 0:
                orphans[pod.key] = pod
            else:
                orphans.pop(pod.key, None)
                if not orphans:
                    del self._orphans[pod.node]
            return
        self._count_idle(entry, -1)
        held = entry.held
        if sign > 0:
            known = pod.key in held
            held[pod.key] = pod
            entry.requested = entry.requested + pod.requests
        else:
            known = held.pop(pod.key, None) is pod
            entry.requested = entry.requested - pod.requests
        entry.pod_count += sign
        if known == (sign > 0):
            entry.adopt(held)  # a pod replaced, or one it did not hold: counted afresh
        else:
            entry.tally.change(entry.facts, pod, sign, held.values())
        self._restate(entry)
        self._count_idle(entry, 1)

    def _count_idle(self, entry: NodeEntry, sign: int) -> None:
        accelerator = entry.facts.accelerator
        if accelerator is None or accelerator.type is None or accelerator.count <= 0:
            return
        name = accelerator.type.name
        self.idle_version += 1
        if sign < 0:
            # What it counted last (its usage changes only between the two), without reading
            # its devices again.
            self._idle[name] = self._idle.get(name, 0) - entry.idle
            entry.idle = 0
            return
        free = accelerator.count * MILLI_PER_DEVICE - sum(entry.snapshot().devices_used())
        entry.idle = max(0, free)
        self._idle[name] = self._idle.get(name, 0) + entry.idle

    def idle_by_type(self) -> dict[str, int]:
        """Idle milli-devices per known accelerator type."""
        with self.lock:
            return dict(self._idle)

    def peers_of(self, job: str | None, pod_key: str) -> tuple[NodeFacts, ...]:
        """Facts of the nodes holding other pods of `job` (planned ones included)."""
        if job is None:
            return ()
        with self.lock:
            members = self._by_job.get(job, {})
            names = sorted({node for key, node in members.items() if key != pod_key})
            return tuple(self.nodes[n].facts for n in names if n in self.nodes)

    def replace_all(
        self, nodes: list[NodeFacts], pods: list[tuple[PlacedPod, Shape | None]]
    ) -> None:
        """Start over from full lists (a relist), keeping nothing but what is given."""
        with self.lock:
            self.clear_nodes()
            self.pods.clear()
            self._shapes.clear()
            self._by_job.clear()
            self._orphans.clear()
            self.histogram = ShapeHistogram()
            for facts in nodes:
                self.set_node(facts)
            for placed, shape in pods:
                self.set_pod(placed.key, placed, shape)

    # --- what-if -----------------------------------------------------------------------------

    @contextmanager
    def what_if(self) -> Iterator[ClusterState]:
        """A trial: every pod change made inside is rolled back on exit (trials nest)."""
        with self.lock:
            self._undo.append([])
            estimate = self.histogram.estimate()
            try:
                yield self
            finally:
                changes = self._undo.pop()
                # Undone without logging: an enclosing trial must not see the undo as a change.
                for key, old, shape in reversed(changes):
                    self._apply(key, self.pods.get(key), old, shape)
                # The workload estimate is as it was, not re-estimated by the trial's pods.
                self.histogram.restore(estimate)
