"""A pending pod the operator planned on a node reserves its room there in the extender's state:
other pods' filters see it taken, the pod itself still fits, and the reservation ends when the
pod is bound, deleted or its owner is not believed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.extender.reservations import Reservations
from suanli.extender.wire import ExtenderArgs
from suanli.keys import PLANNED_NODE_ANNOTATION
from tests.unit.extender.conftest import Harness, pod

H100 = '{"acceleratorTypes": ["H100"]}'
NODE = "h100-use1-0"  # 8 devices


def planned(name: str, node: str = NODE, **changes: Any) -> dict[str, Any]:
    """A pending 8-GPU pod the operator planned on `node`."""
    made = pod(name, H100, gpus=8, **changes)
    made["metadata"]["annotations"][PLANNED_NODE_ANNOTATION] = node
    made["status"] = {"phase": "Pending"}
    return made


def bound(made: dict[str, Any], node: str = NODE) -> dict[str, Any]:
    return {**made, "spec": {**made["spec"], "nodeName": node}, "status": {"phase": "Running"}}


def _offered(harness: Harness, name: str) -> list[str]:
    args = ExtenderArgs.model_validate({"Pod": pod(name, H100, gpus=8), "NodeNames": [NODE]})
    return list(harness.service.filter(args).node_names)


def _devices_used(harness: Harness) -> int:
    snapshot = harness.service.cache.snapshot().node(NODE)
    assert snapshot is not None
    return sum(snapshot.devices_used()) // 1000


Step = Callable[[Reservations, Harness], None]


def pending(event: str, made: dict[str, Any]) -> Step:
    return lambda reservations, _: reservations.apply(event, made)


def watched_bound(event: str, made: dict[str, Any]) -> Step:
    return lambda _, harness: harness.service.cache.apply_pod(event, made)


def relisted_pending(*pods: dict[str, Any]) -> Step:
    return lambda reservations, _: reservations.replace(list(pods))


def relisted_bound(*pods: dict[str, Any]) -> Step:
    return lambda _, harness: harness.service.cache.replace_pods(list(pods))


GANG = planned("gang-0")
NOBODYS = planned("nobodys", owners=[])
LEAVING = planned("leaving")
LEAVING["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
ELSEWHERE = planned("elsewhere", node="h100-use1-1")


@dataclass(frozen=True)
class Sequence:
    name: str
    steps: tuple[Step, ...]
    devices_used: int  # on NODE afterwards
    reserved: int  # reservations the feed keeps afterwards


SEQUENCES = [
    Sequence("a planned pod reserves its room", (pending("ADDED", GANG),), 8, 1),
    Sequence(
        "a pod deleted while pending gives it back",
        (pending("ADDED", GANG), pending("DELETED", GANG)),
        0,
        0,
    ),
    Sequence(
        "bound, it counts once, whatever watch speaks first",
        (pending("ADDED", GANG), watched_bound("ADDED", bound(GANG)), pending("DELETED", GANG)),
        8,
        0,
    ),
    Sequence(
        "a late pending event does not add a second copy of a bound pod",
        (watched_bound("ADDED", bound(GANG)), pending("MODIFIED", GANG)),
        8,
        0,
    ),
    Sequence(
        "bound elsewhere than planned, it leaves the planned node",
        (pending("ADDED", GANG), watched_bound("ADDED", bound(GANG, "h100-use1-1"))),
        0,
        0,
    ),
    Sequence("a pod no ComputeJob owns reserves nothing", (pending("ADDED", NOBODYS),), 0, 0),
    Sequence("a pod being deleted reserves nothing", (pending("ADDED", LEAVING),), 0, 0),
    Sequence(
        "a relist of pending pods ends the reservations it no longer lists",
        (pending("ADDED", GANG), relisted_pending(ELSEWHERE)),
        0,
        1,
    ),
    Sequence(
        "a relist of bound pods keeps the reservations",
        (pending("ADDED", GANG), relisted_bound()),
        8,
        1,
    ),
]


@pytest.mark.parametrize("sequence", SEQUENCES, ids=[s.name for s in SEQUENCES])
def test_reservations_follow_the_watches(harness: Harness, sequence: Sequence) -> None:
    reservations = Reservations(harness.service.cache, harness.service.jobs)
    for step in sequence.steps:
        step(reservations, harness)
    assert _devices_used(harness) == sequence.devices_used
    assert harness.service.cache.counts()["reserved"] == sequence.reserved


def test_other_pods_go_elsewhere_while_the_planned_pod_still_fits(harness: Harness) -> None:
    reservations = Reservations(harness.service.cache, harness.service.jobs)
    assert _offered(harness, "batch-before") == [NODE]
    harness.service.cache.forget(pod("batch-before"))  # its hold given back: not bound
    reservations.apply("ADDED", GANG)
    assert _offered(harness, "batch-after") == []
    harness.service.cache.forget(pod("batch-after"))
    args = ExtenderArgs.model_validate({"Pod": GANG, "NodeNames": [NODE]})
    # The planned pod itself is not kept out by its own reservation.
    assert list(harness.service.filter(args).node_names) == [NODE]
