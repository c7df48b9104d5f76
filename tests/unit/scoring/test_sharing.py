"""GPU sharing stacks: read from what a node advertises and what a pod requests, matched by the
filter, and HAMi's device annotations written from the node's registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.keys import GPU_MILLI_ANNOTATION
from suanli.scoring import Outcome, Snapshot, evaluate, node_facts, parse_pod
from suanli.scoring.resources import Resources, parse_resource_list
from suanli.scoring.sharing import (
    ShareStack,
    hami_annotations,
    hami_uuids,
    node_stack,
    pod_stack,
)

from .helpers import default_catalog, default_latency, node, pod

T4_LABELS = {
    "nvidia.com/gpu.product": "Tesla-T4",
    "nvidia.com/gpu.count": "4",
    "nvidia.com/gpu.memory": "15360",
}
BASE = {"cpu": "32", "memory": "128Gi", "pods": "110"}
HAMI = {**BASE, "nvidia.com/gpu": "40", "nvidia.com/gpumem": "61440", "nvidia.com/gpucores": "400"}
SLICED = {**BASE, "nvidia.com/gpu.shared": "16"}
PLAIN = {**BASE, "nvidia.com/gpu": "4"}
REGISTER = "".join(f"GPU-u{i},10,15360,100,NVIDIA-Tesla-T4,0,true:" for i in range(4))


@dataclass(frozen=True)
class NodeCase:
    id: str
    allocatable: dict[str, str]
    stack: ShareStack
    devices: int  # physical devices Suanli counts


NODE_CASES = [
    NodeCase("hami-vgpus-are-not-devices", HAMI, ShareStack.HAMI, 4),
    NodeCase("time-sliced-replicas-are-not-devices", SLICED, ShareStack.TIME_SLICING, 4),
    NodeCase("plain", PLAIN, ShareStack.SUANLI, 4),
]


@pytest.mark.parametrize("case", NODE_CASES, ids=lambda c: c.id)
def test_a_node_stack_and_its_physical_devices(case: NodeCase) -> None:
    facts = node_facts(node("n", T4_LABELS, case.allocatable), default_catalog())
    assert facts.share_stack is case.stack
    assert node_stack(parse_resource_list(case.allocatable, "allocatable")) is case.stack
    assert facts.accelerator is not None
    assert facts.accelerator.count == case.devices


def _share(milli: int, limits: dict[str, str]) -> dict[str, Any]:
    raw = pod({"cpu": "1", "memory": "1Gi"}, name="s")
    raw["spec"]["containers"][0]["resources"]["limits"] = limits
    raw["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(milli)
    raw["metadata"]["annotations"]["suanli.dev/demand"] = '{"acceleratorTypes": ["T4"]}'
    return raw


HAMI_LIMITS = {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3840", "nvidia.com/gpucores": "25"}
SLICED_LIMITS = {"nvidia.com/gpu.shared": "1"}


@dataclass(frozen=True)
class PodCase:
    id: str
    limits: dict[str, str]
    stack: ShareStack
    lands_on: str


POD_CASES = [
    PodCase("hami-share", HAMI_LIMITS, ShareStack.HAMI, "hami"),
    PodCase("time-sliced-share", SLICED_LIMITS, ShareStack.TIME_SLICING, "sliced"),
    PodCase("annotation-only-share", {}, ShareStack.SUANLI, "plain"),
]


@pytest.mark.parametrize("case", POD_CASES, ids=lambda c: c.id)
def test_a_share_pod_goes_only_to_nodes_of_its_stack(case: PodCase) -> None:
    demand = parse_pod(_share(250, case.limits))
    assert demand.share_stack is case.stack
    assert pod_stack(demand.requests) is case.stack
    assert demand.gpu.whole == 0  # HAMi's nvidia.com/gpu: 1 is a vGPU, not a device
    assert demand.gpu.milli == 250
    nodes = [
        node("hami", T4_LABELS, HAMI),
        node("sliced", T4_LABELS, SLICED),
        node("plain", T4_LABELS, PLAIN),
    ]
    snapshot = Snapshot.from_objects(nodes, [], default_catalog())
    decision = evaluate(
        demand, snapshot.select(["hami", "sliced", "plain"]), default_catalog(), default_latency()
    )
    assert decision.ranking == (case.lands_on,)
    for other in {"hami", "sliced", "plain"} - {case.lands_on}:
        verdict = decision.result(other).verdict
        assert verdict.outcome is Outcome.UNRESOLVABLE
        assert f"pod written for {case.stack}" in verdict.reason


def test_whole_device_pods_ignore_the_stack() -> None:
    demand = parse_pod(pod({"cpu": "1", "nvidia.com/gpu": "2"}, name="w"))
    assert demand.share_stack is None


def test_hami_devices_are_named_by_the_registered_uuid() -> None:
    assert hami_uuids(REGISTER) == ("GPU-u0", "GPU-u1", "GPU-u2", "GPU-u3")
    assert hami_uuids(None) == ()
    requests = Resources({"nvidia.com/gpumem": 3840, "nvidia.com/gpucores": 25})
    written = hami_annotations(
        "t4-0", ((2, 250),), requests, {"hami.io/node-nvidia-register": REGISTER}, 1700000000.9
    )
    assert written == {
        "hami.io/vgpu-devices-to-allocate": "GPU-u2,NVIDIA,3840,25:;",
        "hami.io/vgpu-devices-allocated": "GPU-u2,NVIDIA,3840,25:;",
        "hami.io/vgpu-node": "t4-0",
        "hami.io/bind-phase": "allocating",
        "hami.io/bind-time": "1700000000",
    }


def test_no_hami_annotations_without_a_registered_device() -> None:
    requests = Resources({"nvidia.com/gpumem": 3840})
    assert hami_annotations("t4-0", ((5, 250),), requests, {}, 0.0) == {}
    register = {"hami.io/node-nvidia-register": REGISTER}
    assert hami_annotations("t4-0", ((5, 250),), requests, register, 0.0) == {}
