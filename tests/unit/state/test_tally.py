"""A node's device usage kept pod by pod is what `node_devices` rebuilds from all its pods."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import NodeFacts, Resources, node_facts
from suanli.scoring.snapshot import PlacedPod, node_devices
from suanli.state.tally import DeviceTally
from tests.unit.scoring.helpers import default_catalog, fleet_nodes

CATALOG = default_catalog()
_ALL = [node_facts(n, CATALOG) for n in fleet_nodes()]
_GPU = next(f for f in _ALL if f.accelerator is not None and f.accelerator.count >= 4)
_CPU = next(f for f in _ALL if f.accelerator is None)


def _pod(number: int, kind: int, index: int, facts: NodeFacts) -> PlacedPod:
    """Pods of every sort `node_devices` tells apart: without devices, whole devices with and
    without a recorded allocation, shares with and without one, an allocation out of range."""
    resource = facts.accelerator.resource if facts.accelerator is not None else "nvidia.com/gpu"
    key = f"ns/p{number}"
    plain = Resources({"cpu": 1000})
    whole = Resources({"cpu": 1000, resource: 1})
    sorts = {
        0: PlacedPod(key, facts.name, None, plain),
        1: PlacedPod(key, facts.name, None, whole, 0, ((index, 1000),)),
        2: PlacedPod(key, facts.name, None, whole),
        3: PlacedPod(key, facts.name, None, plain, 250, ((index, 250),)),
        4: PlacedPod(key, facts.name, None, plain, 500),
        5: PlacedPod(key, facts.name, None, whole, 0, ((99, 1000),)),
        6: PlacedPod(key, facts.name, None, plain, 0, ()),
    }
    return sorts[kind]


_steps = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 6), st.integers(0, 3), st.booleans()),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(_steps, st.booleans())
def test_kept_usage_is_the_rebuilt_one(steps: list[tuple[int, int, int, bool]], gpu: bool) -> None:
    facts = _GPU if gpu else _CPU
    held: dict[str, PlacedPod] = {}
    tally = DeviceTally(facts)
    for number, kind, index, add in steps:
        pod = _pod(number, kind, index, facts)
        if add and pod.key not in held:
            held[pod.key] = pod
            tally.change(facts, pod, 1, held.values())
        elif not add and pod.key in held:
            gone = held.pop(pod.key)
            tally.change(facts, gone, -1, held.values())
        assert tally.devices == node_devices(facts, held.values())
        assert DeviceTally(facts, held.values()).devices == tally.devices
