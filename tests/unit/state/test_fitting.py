"""A class's states that can take a pod kind are kept per capacity kind and brought up to date
as states join and leave the class: after every change they are those a judge that never saw
the class lists afresh, and those are the states with room whose capacity fits the pod."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from suanli.scoring import (
    BASELINE_POLICY,
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Resources,
    Shape,
    Workload,
    node_facts,
    parse_pod,
)
from suanli.scoring.context import Context, build_context
from suanli.scoring.snapshot import PlacedPod
from suanli.state.cluster import ClusterState
from suanli.state.entry import class_of
from suanli.state.judge import Judge
from suanli.state.roomy import Asked, fitting_states
from tests.unit.scoring.helpers import default_catalog, default_latency, fleet_nodes, pod

CATALOG = default_catalog()
LATENCY = default_latency()
_FACTS = [node_facts(n, CATALOG) for n in fleet_nodes()]
# The nodes of one class with 8 devices (three of them).
_CLASS = next(
    k
    for k, n in Counter(class_of(f) for f in _FACTS).most_common()
    if n >= 3 and k.accelerator is not None and k.accelerator.count == 8
)
NODES = sorted((f for f in _FACTS if class_of(f) == _CLASS), key=lambda f: f.name)[:3]
_RESOURCE = _CLASS.accelerator.resource if _CLASS.accelerator else ""
WORKLOAD = Workload.of([(Shape(1, 0, 4000, 2**30, _RESOURCE), 1.0)])
ASK = parse_pod(pod({"cpu": "8", "memory": "8Gi", _RESOURCE: "1"}, name="ask"))


@dataclass(frozen=True)
class FittingCase:
    name: str
    # (pod key, node index, cpu cores, devices; 0 cores: the pod leaves), in order; the states
    # are compared after each change
    changes: tuple[tuple[str, int, int, int], ...]
    workload: bool = True
    unread: tuple[int, ...] = ()  # changes after which the states are not read


CASES = [
    FittingCase(
        "pods land on one node after another",
        changes=(("a", 0, 4, 1), ("b", 1, 4, 2), ("c", 2, 8, 1), ("d", 0, 4, 1)),
    ),
    FittingCase(
        "a node without the pod's cpu drops out, with devices left",
        changes=(("a", 0, 90, 1), ("b", 1, 4, 1)),
    ),
    FittingCase(
        "a pod leaves: its node comes back to a state listed before",
        changes=(("a", 0, 4, 1), ("b", 0, 4, 1), ("b", 0, 0, 0), ("a", 0, 0, 0)),
    ),
    FittingCase(
        "a node leaves a state listed and comes back to it before the next read",
        changes=(("a", 0, 4, 1), ("b", 0, 4, 1), ("b", 0, 0, 0)),
        unread=(1,),
    ),
    FittingCase(
        "a full node is freed: its state fits again",
        changes=(("a", 1, 90, 2), ("b", 2, 2, 1), ("a", 1, 0, 0)),
    ),
    FittingCase(
        "without a workload, states are alike",
        changes=(("a", 0, 4, 1), ("b", 1, 90, 1), ("a", 0, 0, 0)),
        workload=False,
    ),
]


def _context(judge: Judge, state: ClusterState, workload: Workload) -> Context:
    judge.start(
        CATALOG, LATENCY, DEFAULT_CONFIG, state.epoch, workload, data_policy=BASELINE_POLICY
    )
    return build_context(
        ASK,
        (),
        CATALOG,
        LATENCY,
        peers=(),
        config=DEFAULT_CONFIG,
        workload=workload,
        fragmentation_memo=judge.fragmentation if workload else None,
        plan_memo=judge.plans if workload else None,
    )


def _listed(judge: Judge, state: ClusterState, workload: Workload) -> list[tuple[float, int]]:
    context = _context(judge, state, workload)
    _, capacity_kind, _ = judge.kinds(context)
    asked = Asked(judge, context, capacity_kind)
    return fitting_states(state, judge, asked, state.nodes[NODES[0].name].class_id)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fitting_states_are_kept_up_to_date(case: FittingCase) -> None:
    state = ClusterState()
    for facts in NODES:
        state.set_node(facts)
    workload = WORKLOAD if case.workload else NO_WORKLOAD
    kept = Judge()
    _listed(kept, state, workload)
    for step, (key, index, cores, devices) in enumerate(case.changes):
        placed = None
        if cores:
            requests = Resources({"cpu": cores * 1000, _RESOURCE: devices})
            placed = PlacedPod(key, NODES[index].name, None, requests)
        state.set_pod(key, placed)
        if step in case.unread:
            continue
        found = _listed(kept, state, workload)
        fresh = Judge()
        assert found == _listed(fresh, state, workload)
        # Those listed afresh: the states of the class's nodes whose capacity fits the pod.
        context = _context(fresh, state, workload)
        _, capacity_kind, _ = fresh.kinds(context)
        fitting = {
            entry.state
            for entry in state.nodes.values()
            if fresh.lack(context, entry, capacity_kind) is None
        }
        assert {number for _, number in found} == fitting
