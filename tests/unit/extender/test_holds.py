"""A node the filter offers alone is held for its pod until the bind: the pods filtered behind
it (before its bind arrives, as kube-scheduler's binding cycles run apart from its scheduling
cycle) see the room taken; a pod asked again gives its hold back; a hold ends by itself."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.extender.wire import ExtenderArgs, ExtenderBindingArgs
from suanli.state import HOLD_TTL_SECONDS
from tests.unit.extender.conftest import Harness, pod

H100 = '{"acceleratorTypes": ["H100"]}'
# The demo fleet's H100 nodes: 8 devices each.
TWO = ["h100-use1-0", "h100-use1-1"]


def _filter(harness: Harness, name: str, gpus: int, names: list[str] = TWO) -> list[str]:
    args = ExtenderArgs.model_validate({"Pod": pod(name, H100, gpus=gpus), "NodeNames": names})
    return list(harness.service.filter(args).node_names)


def _bind(harness: Harness, name: str, node: str) -> str:
    result = harness.service.bind(
        ExtenderBindingArgs.model_validate(
            {"PodName": name, "PodNamespace": "team", "PodUID": f"uid-{name}", "Node": node}
        )
    )
    return result.error


@dataclass(frozen=True)
class Stream:
    name: str
    gpus: tuple[int, ...]  # the pods filtered one after the other, none bound yet
    distinct_nodes: int  # how many nodes they are offered between them


STREAMS = [
    Stream("two full-node pods go to two nodes", gpus=(8, 8), distinct_nodes=2),
    Stream("two half-node pods share one node", gpus=(4, 4), distinct_nodes=1),
    Stream("a third half-node pod opens the second node", gpus=(4, 4, 4), distinct_nodes=2),
]


@pytest.mark.parametrize("stream", STREAMS, ids=[s.name for s in STREAMS])
def test_pods_filtered_before_any_bind_do_not_share_room(harness: Harness, stream: Stream) -> None:
    offered = [_filter(harness, f"p{i}", gpus) for i, gpus in enumerate(stream.gpus)]
    assert all(len(nodes) == 1 for nodes in offered), offered
    assert len({nodes[0] for nodes in offered}) == stream.distinct_nodes
    # Each bind then lands where its filter said, with distinct devices.
    for index, nodes in enumerate(offered):
        assert _bind(harness, f"p{index}", nodes[0]) == ""
    for node in {nodes[0] for nodes in offered}:
        snapshot = harness.service.cache.snapshot().node(node)
        assert snapshot is not None
        used = sum(
            gpus for gpus, nodes in zip(stream.gpus, offered, strict=True) if nodes == [node]
        )
        assert sum(snapshot.devices_used()) == used * 1000


def test_a_pod_filtered_again_does_not_compete_with_its_own_hold(harness: Harness) -> None:
    (first,) = _filter(harness, "p", 8)
    # kube-scheduler gave the attempt up and asks again: the pod's own hold is given back.
    assert _filter(harness, "p", 8) == [first]
    assert harness.service.cache.counts()["assumed"] == 1
    assert _filter(harness, "q", 8) != [first]


def test_a_hold_without_a_bind_ends_by_itself(harness: Harness) -> None:
    now = [0.0]
    feed = harness.service.cache
    feed._clock = lambda: now[0]  # the feed's clock, as the process's monotonic one
    (first,) = _filter(harness, "gone", 8, names=[TWO[0]])
    assert _filter(harness, "next", 8, names=[TWO[0]]) == []  # held for "gone"
    now[0] = HOLD_TTL_SECONDS + 1  # "gone" was deleted while pending: no bind ever comes
    assert _filter(harness, "next", 8, names=[TWO[0]]) == [first]


def test_a_bind_still_refuses_room_another_scheduler_took_under_a_hold(harness: Harness) -> None:
    (node,) = _filter(harness, "late", 8, names=[TWO[0]])
    # A pod of another scheduler, which knows nothing of the hold, lands there meanwhile.
    other = pod("other", gpus=1, scheduler="default-scheduler")
    other["spec"]["nodeName"] = node
    harness.service.cache.apply_pod("ADDED", other)
    assert "were taken meanwhile" in _bind(harness, "late", node)
    assert harness.binder.bound == []
