"""Nodes skipped by tie rank come back once their state changes.

A CPU pod with a workload ties on most nodes, and the decider answers with the first node by
tie rank that fits; the first nodes by rank fill up first, so it skips those that were no answer
last time while they keep the states they were in. A node whose state changed since (a pod left
it) must be judged again: here it fits again and, first by rank, is the answer `evaluate` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring import Shape, Workload, evaluate, parse_pod
from suanli.scoring.combine import tie_rank
from suanli.state import ClusterFeed
from tests.unit.scoring.helpers import default_catalog, default_latency, fleet_nodes, pod

CATALOG = default_catalog()
LATENCY = default_latency()
POOL = [n for n in fleet_nodes() if n["metadata"]["name"].startswith("cpu-use1-")]
# Any GPU shape will do: with a workload, a CPU pod leaves every CPU node's fragmentation as it
# is, so every node that fits ties.
WORKLOAD = Workload.of([(Shape(1, 0, 1000, 2**30, "nvidia.com/gpu"), 1.0)])
ASK = parse_pod(pod({"cpu": "4", "memory": "8Gi"}, name="ask"))


@dataclass(frozen=True)
class Leaving:
    name: str
    # Pods on the pool's first node by tie rank before the first decision: name -> cpu.
    held: dict[str, str]
    leaves: str  # the pod that leaves it before the second decision
    first_answers: bool  # whether the first node by rank is the second decision's answer


LEAVING = [
    Leaving(
        "freed of what filled it, with a pod left: a new state that fits",
        held={"big": "62", "small": "1"},
        leaves="big",
        first_answers=True,
    ),
    Leaving(
        "freed of a small pod only: a new state, still full",
        held={"big": "62", "small": "1"},
        leaves="small",
        first_answers=False,
    ),
    Leaving(
        "freed of everything: the state of the idle nodes",
        held={"big": "62"},
        leaves="big",
        first_answers=True,
    ),
]


def _decide(feed: ClusterFeed) -> str:
    choice = feed.decider.decide(
        ASK, catalog=CATALOG, latency=LATENCY, workload=WORKLOAD, keep=1, complete=False
    )
    snapshot = feed.snapshot()
    reference = evaluate(
        ASK,
        snapshot.select([n["metadata"]["name"] for n in POOL]),
        CATALOG,
        LATENCY,
        workload=WORKLOAD,
    )
    assert choice.ranking == reference.ranking[:1]
    return choice.ranking[0]


@pytest.mark.parametrize("case", LEAVING, ids=[c.name for c in LEAVING])
def test_a_skipped_node_that_changed_state_is_judged_again(case: Leaving) -> None:
    names = [n["metadata"]["name"] for n in POOL]
    first = min(names, key=lambda n: (tie_rank(n), n))
    feed = ClusterFeed(lambda: CATALOG)
    feed.replace_nodes(POOL)
    bodies = {
        held: pod({"cpu": cpu}, name=held, node_name=first, phase="Running")
        for held, cpu in case.held.items()
    }
    feed.replace_pods(bodies.values())
    assert _decide(feed) != first  # full: skipped from now on while it keeps its state
    feed.apply_pod("DELETED", bodies[case.leaves])
    assert (_decide(feed) == first) is case.first_answers
