"""A pod kind that fit nowhere is remembered as such until something gives room back.

Placing pods only takes room, so the decider answers "nowhere" again without judging the
classes while only pods have landed since; a pod leaving, or a node joining or changing, gives
room and the kind is judged afresh. Each case fills the two L40S nodes, asks for one more
device (nowhere), makes its changes and asks again: the answer is `evaluate`'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.scoring import Workload, evaluate, parse_pod
from suanli.state import ClusterFeed
from tests.unit.scoring.helpers import default_catalog, default_latency, fleet_nodes, pod

CATALOG = default_catalog()
LATENCY = default_latency()
POOL = [n for n in fleet_nodes() if n["metadata"]["name"].startswith("l40s-")]
NAMES = [n["metadata"]["name"] for n in POOL]
ASK = parse_pod(pod({"nvidia.com/gpu": "1", "cpu": "2"}, name="ask"))


def _full(index: int) -> dict[str, Any]:
    return pod({"nvidia.com/gpu": "4"}, name=f"full-{index}", node_name=NAMES[index])


def _cpu_pod(name: str) -> dict[str, Any]:
    return pod({"cpu": "1"}, name=name, node_name=NAMES[0])


def _new_node() -> dict[str, Any]:
    node = copy.deepcopy(POOL[0])
    node["metadata"]["name"] = "l40s-usw2-9"
    return node


def _larger_node() -> dict[str, Any]:
    node = copy.deepcopy(POOL[1])
    node["status"]["allocatable"]["nvidia.com/gpu"] = "5"
    node["status"]["capacity"] = dict(node["status"]["allocatable"])
    return node


@dataclass(frozen=True)
class Change:
    kind: str  # "pod" or "node"
    event: str  # "ADDED", "MODIFIED" or "DELETED"
    body: dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    changes: list[Change]
    fits_after: bool


CASES = [
    Case(
        "only pods land: still nowhere",
        changes=[Change("pod", "ADDED", _cpu_pod("c1")), Change("pod", "ADDED", _cpu_pod("c2"))],
        fits_after=False,
    ),
    Case(
        "a pod holding devices leaves: fits again",
        changes=[Change("pod", "ADDED", _cpu_pod("c1")), Change("pod", "DELETED", _full(1))],
        fits_after=True,
    ),
    Case(
        "a pod without devices leaves: judged again, still nowhere",
        changes=[Change("pod", "ADDED", _cpu_pod("c1")), Change("pod", "DELETED", _cpu_pod("c1"))],
        fits_after=False,
    ),
    Case(
        "a node joins: fits there",
        changes=[Change("node", "ADDED", _new_node())],
        fits_after=True,
    ),
    Case(
        "a node gains a device: fits there",
        changes=[Change("node", "MODIFIED", _larger_node())],
        fits_after=True,
    ),
]


def _decide(feed: ClusterFeed, workload: Workload) -> list[str]:
    choice = feed.decider.decide(
        ASK,
        catalog=CATALOG,
        latency=LATENCY,
        workload=workload,
        keep=1,
        complete=False,
        explain_failure=False,
    )
    snapshot = feed.snapshot()
    reference = evaluate(
        ASK, snapshot.select(feed.state.names()), CATALOG, LATENCY, workload=workload
    )
    assert list(choice.ranking) == list(reference.ranking[:1])
    return list(choice.ranking)


@pytest.mark.parametrize("with_workload", [False, True], ids=["no workload", "workload"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_kind_that_fit_nowhere(case: Case, with_workload: bool) -> None:
    feed = ClusterFeed(lambda: CATALOG)
    feed.replace_nodes(copy.deepcopy(POOL))
    feed.replace_pods([_full(0), _full(1)])
    workload = feed.workload() if with_workload else Workload()
    assert _decide(feed, workload) == []
    remembered = feed.state.freed
    for change in case.changes:
        if change.kind == "pod":
            feed.apply_pod(change.event, change.body)
        else:
            feed.apply_node(change.event, change.body)
    # Room was given back exactly when something other than a landing pod happened.
    gave_room = any(c.event != "ADDED" or c.kind == "node" for c in case.changes)
    assert (feed.state.freed != remembered) == gave_room
    assert bool(_decide(feed, workload)) == case.fits_after
