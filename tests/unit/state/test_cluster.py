"""The cluster state: its indexes stay consistent under any sequence of deltas, and trials roll
back exactly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import Resources
from suanli.scoring.snapshot import PlacedPod
from suanli.state import ClusterFeed, ClusterState, usage_index
from suanli.state.entry import room_of
from tests.unit.scoring.helpers import default_catalog, fleet_nodes

CATALOG = default_catalog()
_RAW = [n for n in fleet_nodes() if n["metadata"]["name"].rsplit("-", 1)[1] in {"0", "1"}]
_NAMES = [n["metadata"]["name"] for n in _RAW]


def _state() -> ClusterState:
    feed = ClusterFeed(lambda: CATALOG)
    feed.replace_nodes(_RAW)
    return feed.state


def _check_indexes(state: ClusterState) -> None:
    by_key: dict[Any, int] = {}
    for name, entry in state.nodes.items():
        assert state.state_of[name] == entry.state
        assert name in state.members[entry.state]
        assert entry.state in state.rooms[entry.class_id][room_of(entry.snapshot().devices_used())]
        # One id per usage, one usage per id.
        assert by_key.setdefault(entry.usage_key(), entry.state) == entry.state
    assert len(set(by_key.values())) == len(by_key)
    assert sum(len(m) for m in state.members.values()) == len(state.nodes)
    # The first node by rank of every state (asked here, so the next change starts from it).
    for number, names in state.members.items():
        assert state.first_of(number) == min(state.nodes[n].rank for n in names)
    for class_id, rooms in state.rooms.items():
        assert state.class_states[class_id] == sum(map(len, rooms.values()))
        # The states with nodes, in the order they joined, each with a later room version.
        joined = state.joined[class_id]
        assert set(joined) == set().union(*rooms.values())
        assert list(joined.values()) == sorted(set(joined.values()))
        assert all(v <= state.room_version[class_id] for v in joined.values())
        assert state.roomiest(class_id) == (
            max((r[0] for r in rooms), default=0),
            max((r[1] for r in rooms), default=0),
        )
        for room, numbers in rooms.items():
            assert numbers
            for number in numbers:
                for name in state.members[number]:
                    entry = state.nodes[name]
                    assert entry.class_id == class_id
                    assert room_of(entry.snapshot().devices_used()) == room


_Delta = tuple[str, int, int]  # node, pod number, cpus (0: remove)
deltas = st.lists(
    st.tuples(st.sampled_from(_NAMES), st.integers(0, 15), st.sampled_from([0, 1, 2, 4])),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(deltas, st.booleans())
def test_indexes_stay_consistent(changes: list[_Delta], renumber_often: bool) -> None:
    with pytest.MonkeyPatch.context() as patch:
        if renumber_often:
            patch.setattr(usage_index, "_MAX_STATE_IDS", 12)
        state = _state()
        for node, number, cpus in changes:
            key = f"ns/p{number}"
            placed = PlacedPod(key, node, None, Resources({"cpu": cpus * 1000})) if cpus else None
            state.set_pod(key, placed)
            _check_indexes(state)


@settings(max_examples=40, deadline=None)
@given(deltas, deltas)
def test_a_trial_rolls_back_exactly(before: list[_Delta], trial: list[_Delta]) -> None:
    state = _state()
    for node, number, cpus in before:
        key = f"ns/p{number}"
        state.set_pod(key, PlacedPod(key, node, "ns/j", Resources({"cpu": cpus * 1000})))
    pods = dict(state.pods)
    snapshots = {n: state.node_snapshot(n) for n in _NAMES}
    idle = state.idle_by_type()
    with state.what_if():
        for node, number, cpus in trial:
            key = f"ns/p{number}"
            placed = PlacedPod(key, node, "ns/j", Resources({"cpu": cpus * 1000})) if cpus else None
            state.set_pod(key, placed)
        with state.what_if():  # a nested trial
            state.set_pod("ns/inner", PlacedPod("ns/inner", _NAMES[0], "ns/j", Resources()))
    assert state.pods == pods
    assert {n: state.node_snapshot(n) for n in _NAMES} == snapshots
    assert state.idle_by_type() == idle
    assert state.peers_of("ns/j", "ns/none") == tuple(
        sorted({state.nodes[p.node].facts for p in pods.values()}, key=lambda f: f.name)
    )
    _check_indexes(state)
