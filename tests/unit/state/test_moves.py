"""A class's moves count its nodes' changes of usage state: while they stay, the states of the
class's nodes by rank are those read before (the tie reader skips comparing them)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from suanli.scoring import Resources, node_facts
from suanli.scoring.snapshot import PlacedPod
from suanli.state.cluster import ClusterState
from tests.unit.scoring.helpers import default_catalog, fleet_nodes

CATALOG = default_catalog()
_CPU = [f for f in (node_facts(n, CATALOG) for n in fleet_nodes()) if f.accelerator is None]
FIRST, OTHER = _CPU[0], next(f for f in _CPU[1:] if f.allocatable != _CPU[0].allocatable)


@dataclass(frozen=True)
class MovesCase:
    name: str
    # (pod key, node name, cpu milli; 0: the pod leaves) in order
    changes: tuple[tuple[str, str, int], ...]
    first_moves: int  # added to the first node's class by the changes
    other_moves: int  # added to the other node's class


CASES = [
    MovesCase("nothing changes", changes=(), first_moves=0, other_moves=0),
    MovesCase(
        "a pod lands and leaves: two changes of state",
        changes=(("a", FIRST.name, 1000), ("a", FIRST.name, 0)),
        first_moves=2,
        other_moves=0,
    ),
    MovesCase(
        "pods on the other class count there only",
        changes=(("a", OTHER.name, 1000), ("b", OTHER.name, 2000)),
        first_moves=0,
        other_moves=2,
    ),
    MovesCase(
        "a pod that leaves a node it never held changes nothing",
        changes=(("gone", FIRST.name, 0),),
        first_moves=0,
        other_moves=0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_moves(case: MovesCase) -> None:
    state = ClusterState()
    state.set_node(FIRST)
    state.set_node(OTHER)
    first, other = state.nodes[FIRST.name].class_id, state.nodes[OTHER.name].class_id
    assert first != other
    before = (state.moves.get(first, 0), state.moves.get(other, 0))
    orders = (state.by_rank(first), state.by_rank(other))
    for key, node, cpu in case.changes:
        placed = PlacedPod(key, node, None, Resources({"cpu": cpu})) if cpu else None
        state.set_pod(key, placed)
    after = (state.moves.get(first, 0), state.moves.get(other, 0))
    assert (after[0] - before[0], after[1] - before[1]) == (case.first_moves, case.other_moves)
    # Pods come and go without a new list of the nodes by rank: the moves alone tell.
    assert state.by_rank(first) is orders[0]
    assert state.by_rank(other) is orders[1]


def test_renumbering_moves_every_class() -> None:
    state = ClusterState()
    state.set_node(FIRST)
    state.set_node(OTHER)
    before = dict(state.moves)
    state._renumber()
    assert all(state.moves[c] == before.get(c, 0) + 1 for c in before)


@dataclass(frozen=True)
class MovedSinceCase:
    name: str
    moved: tuple[int, ...]  # places by rank of the nodes that get a pod, in order
    since: int  # of those moves, how many the reader saw
    first_changed: int  # what `moved_since` tells it


MOVED_SINCE_CASES = [
    MovedSinceCase("one node moved since", moved=(3, 1), since=1, first_changed=1),
    MovedSinceCase("the least place of several", moved=(4, 2, 5), since=0, first_changed=2),
    MovedSinceCase(
        "moves before the reader's do not count", moved=(0, 4, 3), since=1, first_changed=3
    ),
]


@pytest.mark.parametrize("case", MOVED_SINCE_CASES, ids=lambda c: c.name)
def test_moved_since(case: MovedSinceCase) -> None:
    state = ClusterState()
    for number in range(6):
        state.set_node(replace(FIRST, name=f"node-{number}"))
    class_id = state.nodes["node-0"].class_id
    order = state.by_rank(class_id)
    start = state.moves[class_id]
    for number, place in enumerate(case.moved):
        state.set_pod(
            f"p{number}", PlacedPod(f"p{number}", order[place].name, None, Resources({"cpu": 100}))
        )
    assert state.moves[class_id] == start + len(case.moved)
    assert state.moved_since(class_id, start + case.since) == case.first_changed


def test_moved_since_reads_from_the_first_node_when_not_known_that_far_back() -> None:
    state = ClusterState()
    for number in range(3):
        state.set_node(replace(FIRST, name=f"node-{number}"))
    class_id = state.nodes["node-0"].class_id
    last = state.by_rank(class_id)[-1].name
    start = state.moves[class_id]
    for number in range(5000):  # far more moves than are kept, all of the last node
        placed = PlacedPod("p", last, None, Resources({"cpu": 100 + number % 2}))
        state.set_pod("p", placed)
    assert state.moved_since(class_id, state.moves[class_id] - 1) == 2
    assert state.moved_since(class_id, start) == 0


def test_a_node_moved_before_its_class_is_read_by_rank_reads_from_the_first() -> None:
    state = ClusterState()
    for number in range(3):
        state.set_node(replace(FIRST, name=f"node-{number}"))
    class_id = state.nodes["node-0"].class_id
    start = state.moves[class_id]
    state.set_pod("p", PlacedPod("p", "node-2", None, Resources({"cpu": 100})))
    assert state.moved_since(class_id, start) == 0
