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
from suanli.state.entry import NodeEntry, Room, UsageKey, class_of, room_of

# Interned usage states are renumbered past this many, so a long-lived process stays bounded.
_MAX_STATE_IDS = 200_000


class ClusterState:
    """Nodes, the pods bound (or assumed, or tentatively placed) on them, and their workload."""

    def __init__(self) -> None:
        # Watches write from their threads while decisions read: one lock around both.
        self.lock = threading.RLock()
        self.nodes: dict[str, NodeEntry] = {}
        self.pods: dict[str, PlacedPod] = {}
        self.histogram = ShapeHistogram()
        self._shapes: dict[str, Shape | None] = {}
        self._classes: dict[NodeFacts, int] = {}
        self._state_ids: dict[UsageKey, int] = {}
        # usage state -> class, room (read by the decider: a state whose room lacks a pod's
        # devices is no answer, whatever else it has)
        self.where: dict[int, tuple[int, Room]] = {}
        self.state_of: dict[str, int] = {}  # node name -> usage state id
        self.members: dict[int, set[str]] = {}  # usage state id -> node names
        # usage state id -> the rank of its member that goes first among equals (kept until
        # its members change)
        self._first: dict[int, tuple[int, str]] = {}
        self._by_rank: dict[int, list[NodeEntry]] = {}  # class -> its nodes by rank
        # class -> device room (idle devices, largest free milli) -> usage states with nodes: a
        # pod asking for devices visits only the rooms that can hold it.
        self.rooms: dict[int, dict[Room, set[int]]] = {}
        self.class_states: dict[int, int] = {}  # class -> how many usage states have nodes
        self._roomiest: dict[int, tuple[int, Room]] = {}  # class -> room version, `roomiest`
        # Bumped whenever a class gains its first usage state or loses its last: what is
        # derived from the set of classes with nodes stays valid while it holds.
        self.classes_version = 0
        # class -> a number bumped whenever its set of usage states changes: what is derived from
        # a class's states (the ones a kind of pod fits) stays valid while it holds.
        self.room_version: dict[int, int] = {}
        # class -> its usage states with nodes in the order they joined it, with the class's
        # room version then: a reader that listed the class at some version catches up with
        # the states that joined since (read from the newest), not with every change.
        self.joined: dict[int, dict[int, int]] = {}
        self.left: dict[int, int] = {}  # class -> usage states that lost their last node
        # class -> how many times one of its nodes changed usage state (or the states were
        # renumbered): the states of its nodes by rank are those read before while it holds.
        self.moves: dict[int, int] = {}
        self._by_job: dict[str, dict[str, str]] = {}  # job -> pod key -> node
        self._orphans: dict[str, dict[str, PlacedPod]] = {}  # pods on nodes not known (yet)
        self._idle: dict[str, int] = {}  # idle milli-devices per known accelerator type
        self._names: list[str] | None = []
        self._undo: list[list[tuple[str, PlacedPod | None, Shape | None]]] = []
        # Bumped when state ids are renumbered or node classes change: memos keyed by them expire.
        self.epoch = 0
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
                orphans = self._orphans.pop(facts.name, {})
                for pod in orphans.values():
                    entry.requested = entry.requested + pod.requests
                    entry.pod_count += 1
                entry.adopt(dict(orphans))
            self.nodes[facts.name] = entry
            self.freed += 1
            self._by_rank.clear()
            self._restate(entry)
            self._count_idle(entry, 1)
            self.generation += 1
            return True

    def remove_node(self, name: str) -> None:
        with self.lock:
            entry = self.nodes.pop(name, None)
            self._by_rank.clear()
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
            self._first.clear()
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

    def _restate(self, entry: NodeEntry) -> None:
        entry.snap = None
        key = entry.usage_key()
        state = self._state_ids.get(key)
        if state is None and len(self._state_ids) >= _MAX_STATE_IDS:
            self._renumber()  # numbers the nodes as they are now, this one included
            state = self._state_ids.get(key)
        if state is None:
            state = self._state_ids[key] = len(self._state_ids)
            self.where[state] = (entry.class_id, room_of(key[3]))
        old = self.state_of.get(entry.name)
        entry.state = state
        self.state_of[entry.name] = state
        if old != state:
            self.moves[entry.class_id] = self.moves.get(entry.class_id, 0) + 1
            # Joined first: a class whose one usage state the node leaves does not look empty
            # in between (what is kept per set of classes with nodes stays valid).
            self._join(entry.name, state)
            self._leave(entry.name, old)

    def by_rank(self, class_id: int) -> list[NodeEntry]:
        """The class's nodes in their order among nodes of equal total."""
        found = self._by_rank.get(class_id)
        if found is None:
            members = (e for e in self.nodes.values() if e.class_id == class_id)
            found = self._by_rank[class_id] = sorted(members, key=lambda e: e.rank)
        return found

    def first_of(self, state: int) -> tuple[int, str]:
        """(tie rank, name) of the state's node that goes first among nodes of equal total."""
        found = self._first.get(state)
        if found is None:
            nodes = self.nodes
            found = self._first[state] = min(nodes[n].rank for n in self.members[state])
        return found

    def _join(self, name: str, state: int) -> None:
        self._first.pop(state, None)
        members = self.members.get(state)
        if members is None:
            members = self.members[state] = set()
            class_id, room = self.where[state]
            rooms = self.rooms.setdefault(class_id, {})
            if not rooms:
                self.classes_version += 1
            rooms.setdefault(room, set()).add(state)
            self.class_states[class_id] = self.class_states.get(class_id, 0) + 1
            self._bump(class_id, state, True)
        members.add(name)

    def _leave(self, name: str, state: int | None) -> None:
        if state is None:
            return
        self._first.pop(state, None)
        members = self.members.get(state)
        if members is not None:
            members.discard(name)
            if not members:
                del self.members[state]
                class_id, room = self.where[state]
                rooms = self.rooms[class_id]
                rooms[room].discard(state)
                self.class_states[class_id] -= 1
                if not rooms[room]:
                    del rooms[room]
                    if not rooms:
                        self.classes_version += 1
                self._bump(class_id, state, False)

    def _bump(self, class_id: int, state: int, joined: bool) -> None:
        version = self.room_version[class_id] = self.room_version.get(class_id, 0) + 1
        states = self.joined.setdefault(class_id, {})
        if joined:
            states[state] = version
        else:
            del states[state]
            self.left[class_id] = self.left.get(class_id, 0) + 1

    def roomiest(self, class_id: int) -> Room:
        """The most idle devices and the largest free share of any usage state of the class: a
        pod asking for more lacks devices on every node of it. Kept per room version."""
        version = self.room_version.get(class_id, 0)
        found = self._roomiest.get(class_id)
        if found is None or found[0] != version:
            rooms = self.rooms.get(class_id, {})
            most = (max((r[0] for r in rooms), default=0), max((r[1] for r in rooms), default=0))
            found = self._roomiest[class_id] = (version, most)
        return found[1]

    def room_of_state(self, state: int) -> Room:
        return self.where[state][1]

    def _renumber(self) -> None:
        self._state_ids = {}
        self.members = {}
        self._first = {}
        self.rooms = {}
        self.class_states = {}
        self._roomiest = {}
        self.joined = {}
        self.classes_version += 1
        self.where = {}
        self.epoch += 1
        for class_id in {other.class_id for other in self.nodes.values()}:
            self.moves[class_id] = self.moves.get(class_id, 0) + 1  # every number changes
        for other in self.nodes.values():
            key = other.usage_key()
            other.state = self._state_ids.setdefault(key, len(self._state_ids))
            self.where[other.state] = (other.class_id, room_of(key[3]))
            self.state_of[other.name] = other.state
            self._join(other.name, other.state)

    def _count_idle(self, entry: NodeEntry, sign: int) -> None:
        accelerator = entry.facts.accelerator
        if accelerator is None or accelerator.type is None or accelerator.count <= 0:
            return
        name = accelerator.type.name
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
