"""The idle capacity per accelerator type is kept as pods land on nodes and leave them (each
node takes back what it counted): after every change it is what the nodes' devices say."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring import MILLI_PER_DEVICE, NodeFacts, Resources, node_facts
from suanli.scoring.snapshot import PlacedPod
from suanli.state.cluster import ClusterState
from tests.unit.scoring.helpers import default_catalog, fleet_nodes

CATALOG = default_catalog()
GPU_NODES = [
    f
    for f in (node_facts(n, CATALOG) for n in fleet_nodes())
    if f.accelerator is not None and f.accelerator.type is not None and f.accelerator.count >= 2
][:3]


@dataclass(frozen=True)
class IdleCase:
    name: str
    # (pod key, node index, whole devices, share; neither: the pod leaves), in order
    changes: tuple[tuple[str, int, int, int], ...]


CASES = [
    IdleCase("whole devices land on two nodes", changes=(("a", 0, 1, 0), ("b", 1, 2, 0))),
    IdleCase(
        "a share, then another on the same node", changes=(("a", 0, 0, 250), ("b", 0, 0, 500))
    ),
    IdleCase(
        "pods leave again",
        changes=(("a", 0, 1, 0), ("b", 2, 0, 300), ("a", 0, 0, 0), ("b", 2, 0, 0)),
    ),
    IdleCase("a pod moves to another node", changes=(("a", 0, 1, 0), ("a", 1, 1, 0))),
]


def _idle(state: ClusterState, nodes: list[NodeFacts]) -> dict[str, int]:
    """Idle milli-devices per type, from every node's devices as they are."""
    found: dict[str, int] = {}
    for facts in nodes:
        accelerator = facts.accelerator
        assert accelerator is not None
        assert accelerator.type is not None
        used = state.nodes[facts.name].snapshot().devices_used()
        free = max(0, accelerator.count * MILLI_PER_DEVICE - sum(used))
        found[accelerator.type.name] = found.get(accelerator.type.name, 0) + free
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_idle_capacity_follows_the_devices(case: IdleCase) -> None:
    state = ClusterState()
    for facts in GPU_NODES:
        state.set_node(facts)
    for key, index, whole, milli in case.changes:
        placed = None
        if whole or milli:
            facts = GPU_NODES[index]
            assert facts.accelerator is not None
            requests = Resources({facts.accelerator.resource: whole})
            devices = ((0, milli),) if milli else tuple((i, MILLI_PER_DEVICE) for i in range(whole))
            placed = PlacedPod(key, facts.name, None, requests, milli, devices)
        state.set_pod(key, placed)
        assert state.idle_by_type() == _idle(state, GPU_NODES)
