"""The usage states of a cluster's nodes: their ids, the nodes in each, and per node class the
states by the room their devices leave, with the numbers readers catch up from.

Nodes of one class with one usage state answer every pod alike, so decisions read states, not
nodes: `members` gives a state's nodes, `rooms` a class's states by device room, `joined` and
`room_version` what changed in a class since a reader last listed it, `moves` whether any of a
class's nodes changed state. `ClusterState` keeps this index up to date as its nodes' usage
changes (`_restate`).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from operator import itemgetter

from suanli.state.entry import NodeEntry, Room, UsageKey, room_of

# Interned usage states are renumbered past this many, so a long-lived process stays bounded.
_MAX_STATE_IDS = 200_000
# Moves of a class's nodes kept for `moved_since` (a reader further behind reads from the first).
_MOVES_KEPT = 2048
_IDLE, _SHARE = itemgetter(0), itemgetter(1)  # of a device room


class UsageIndex:
    """Usage state ids and their indexes, for the nodes of a `ClusterState` (which sets
    `nodes` and `epoch`)."""

    nodes: dict[str, NodeEntry]
    epoch: int

    def __init__(self) -> None:
        self._state_ids: dict[UsageKey, int] = {}
        # usage state -> class, room (read by the decider: a state whose room lacks a pod's
        # devices is no answer, whatever else it has)
        self.where: dict[int, tuple[int, Room]] = {}
        self.state_of: dict[str, int] = {}  # node name -> usage state id
        self.members: dict[int, set[str]] = {}  # usage state id -> node names
        # usage state id -> the ranks of its members, a heap (with those of members that left
        # since, dropped once on top): the one that goes first among equals is read from it.
        self._ranks: dict[int, list[tuple[int, str]]] = {}
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
        # class -> the place by rank (`by_rank`) of the node of each of those moves, the
        # latest `_MOVES_KEPT` or so, and how many moves came before them: a reader of the first
        # nodes by rank learns where the first change since it read them is (`moved_since`).
        self._moved_at: dict[int, list[int]] = {}
        self._moved_before: dict[int, int] = {}
        self._places: dict[str, int] = {}  # node name -> its place in its class's `by_rank`

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
            self._moved(entry.class_id, self._places.get(entry.name, 0))
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
            self._places.update((e.name, place) for place, e in enumerate(found))
        return found

    def forget_ranks(self) -> None:
        """The classes' nodes by rank, to be sorted afresh (nodes came, went or changed)."""
        self._by_rank.clear()
        self._places.clear()

    def _moved(self, class_id: int, place: int) -> None:
        """A node of the class at `place` by rank changed usage state (0 where that is not
        known: a reader then reads the class's nodes from the first)."""
        self.moves[class_id] = self.moves.get(class_id, 0) + 1
        log = self._moved_at.get(class_id)
        if log is None:
            log = self._moved_at[class_id] = []
        log.append(place)
        if len(log) > 2 * _MOVES_KEPT:
            del log[:_MOVES_KEPT]
            self._moved_before[class_id] = self._moved_before.get(class_id, 0) + _MOVES_KEPT

    def moved_since(self, class_id: int, moves: int) -> int:
        """The first place by rank among the class's nodes that changed usage state since the
        class's `moves` were `moves` (0 when not known that far back)."""
        before = self._moved_before.get(class_id, 0)
        if moves < before:
            return 0
        return min(self._moved_at[class_id][moves - before :], default=0)

    def first_of(self, state: int) -> tuple[int, str]:
        """(tie rank, name) of the state's node that goes first among nodes of equal total."""
        ranks, members = self._ranks[state], self.members[state]
        while ranks[0][1] not in members:
            heappop(ranks)  # a node that left the state since
        return ranks[0]

    def _join(self, name: str, state: int) -> None:
        members = self.members.get(state)
        ranks = self._ranks.get(state)
        if members is None or ranks is None:
            ranks = self._ranks[state] = []
        elif len(ranks) > 2 * len(members) + 8:
            # Mostly nodes that left since: made again from the members.
            ranks[:] = [self.nodes[n].rank for n in members]
            heapify(ranks)
        heappush(ranks, self.nodes[name].rank)
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
        members = self.members.get(state)
        if members is not None:
            members.discard(name)
            if not members:
                del self.members[state]
                del self._ranks[state]
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
            # Read in C: asked again whenever a class's states change.
            most = (max(map(_IDLE, rooms), default=0), max(map(_SHARE, rooms), default=0))
            found = self._roomiest[class_id] = (version, most)
        return found[1]

    def room_of_state(self, state: int) -> Room:
        return self.where[state][1]

    def _renumber(self) -> None:
        self._state_ids = {}
        self.members = {}
        self._ranks = {}
        self.rooms = {}
        self.class_states = {}
        self._roomiest = {}
        self.joined = {}
        self.classes_version += 1
        self.where = {}
        self.epoch += 1
        for class_id in {other.class_id for other in self.nodes.values()}:
            self._moved(class_id, 0)  # every number changes
        for other in self.nodes.values():
            key = other.usage_key()
            other.state = self._state_ids.setdefault(key, len(self._state_ids))
            self.where[other.state] = (other.class_id, room_of(key[3]))
            self.state_of[other.name] = other.state
            self._join(other.name, other.state)
