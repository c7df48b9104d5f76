"""The extender behind a real kube-scheduler: where pods land, and why they wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from suanli.fleet import default_fleet
from tests.integration.conftest import ControlPlane, Extender
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_labels,
    node_of,
    owning_job,
    raw_pod,
    suanli_pod,
    unschedulable_reason,
)

GPU_PRODUCT = "nvidia.com/gpu.product"


# The ComputeJob that owns each test namespace's pods: the extender places a pod by its demand
# only when a ComputeJob it knows owns it, as the operator's pods are owned.
OWNERS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def namespace(
    control_plane: ControlPlane, extender: Extender, computejob_crd: None
) -> Iterator[str]:
    name = new_namespace(control_plane.core, "ext")
    OWNERS[name] = owning_job(control_plane.core, name)
    yield name
    OWNERS.pop(name, None)
    delete_namespace_and_wait(control_plane.core, name)


def _create(control_plane: ControlPlane, namespace: str, pod: dict) -> str:  # type: ignore[type-arg]
    pod["metadata"]["ownerReferences"] = [OWNERS[namespace]]
    control_plane.core.create_namespaced_pod(namespace, pod)
    return str(pod["metadata"]["name"])


def _unschedulable(control_plane: ControlPlane, namespace: str, name: str) -> str:
    return unschedulable_reason(control_plane.core, namespace, name)


def test_h100_first_while_free_then_a100(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    h100_nodes = sum(
        1
        for p in control_plane.fleet.pools
        if p.gpu and "H100" in p.gpu.product
        for _ in range(p.count)
    )
    products = []
    for index in range(h100_nodes + 2):
        name = _create(
            control_plane,
            namespace,
            suanli_pod(f"w{index}", demand={"acceleratorTypes": ["H100", "A100"]}, gpus=8, cpu="8"),
        )
        products.append(node_labels(core, node_of(core, namespace, name))[GPU_PRODUCT])
    assert products[:h100_nodes] == ["NVIDIA-H100-80GB-HBM3"] * h100_nodes
    assert products[h100_nodes:] == ["NVIDIA-A100-SXM4-80GB"] * 2


def test_placement_is_explained_on_the_pod_and_in_an_event(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    name = _create(
        control_plane,
        namespace,
        suanli_pod("explained", demand={"acceleratorTypes": ["L40S"]}, gpus=1),
    )
    node = node_of(core, namespace, name)
    pod = eventually(
        lambda: (
            (p := raw_pod(core, namespace, name))
            and "suanli.dev/placement" in p["metadata"].get("annotations", {})
            and p
        ),
        what="placement annotation",
    )
    placement = json.loads(pod["metadata"]["annotations"]["suanli.dev/placement"])
    assert placement["node"] == node
    assert 0 <= placement["score"] <= 10
    assert set(placement["breakdown"]) == {"accelerator", "hpc", "locality", "cost", "packing"}
    assert placement["runnersUp"]
    assert all(r["node"].startswith("l40s-") for r in placement["runnersUp"])
    events = control_plane.kubectl(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )
    assert "Placed" in events
    assert f"placed on {node}" in events


def test_t4_job_never_lands_on_h100(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    t4_nodes = next(pool.count for pool in default_fleet().pools if pool.name == "t4-usw2")
    for index in range(t4_nodes):
        name = _create(
            control_plane,
            namespace,
            suanli_pod(f"t4-{index}", demand={"acceleratorTypes": ["T4"]}, gpus=4),
        )
        assert node_labels(core, node_of(core, namespace, name))[GPU_PRODUCT] == "Tesla-T4"
    # Every T4 is taken now: the next T4 pod waits rather than taking an H100.
    name = _create(
        control_plane,
        namespace,
        suanli_pod("t4-extra", demand={"acceleratorTypes": ["T4"]}, gpus=4),
    )
    reason = _unschedulable(control_plane, namespace, name)
    assert "accelerator type" in reason


def test_infiniband_job_stays_within_one_rack(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    demand = {
        "interconnect": "infiniband",
        "rdma": True,
        "cpuFeatures": ["AVX512F"],
        "sameDomain": "rack",
    }
    racks = set()
    for index in range(4):
        name = _create(
            control_plane,
            namespace,
            suanli_pod(f"mpi-{index}", demand=demand, cpu="100", memory="64Gi", job="mpi"),
        )
        labels = node_labels(core, node_of(core, namespace, name))
        assert labels["suanli.dev/interconnect"] == "infiniband"
        racks.add(labels["suanli.dev/rack"])
    assert len(racks) == 1


def test_edge_job_stays_near_its_data_site(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    demand = {"tiers": ["edge"], "sites": ["sh-edge-1"], "maxLatencyMs": 20}
    # The fleet's edge nodes carry KubeEdge's taint, as the operator's edge pods tolerate it.
    edge = dict(tolerations=[{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}])
    for index in range(3):
        name = _create(
            control_plane,
            namespace,
            suanli_pod(f"edge-{index}", demand=demand, gpus=1, cpu="2", **edge),
        )
        labels = node_labels(core, node_of(core, namespace, name))
        assert labels["suanli.dev/site"] == "sh-edge-1"
        assert labels["topology.kubernetes.io/region"] == "cn-east-1"
    # The Shanghai edge GPUs are full; Beijing is 28 ms away: the pod waits instead of going far.
    name = _create(
        control_plane, namespace, suanli_pod("edge-extra", demand=demand, gpus=1, cpu="2", **edge)
    )
    assert "latency" in _unschedulable(control_plane, namespace, name)


def test_ascend_job_lands_on_ascend(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    name = _create(
        control_plane,
        namespace,
        suanli_pod(
            "npu",
            demand={"acceleratorTypes": ["Ascend910B"]},
            gpus=8,
            gpu_resource="huawei.com/Ascend910",
        ),
    )
    labels = node_labels(core, node_of(core, namespace, name))
    # The Ascend device plugin's chip name, which the catalog resolves to Ascend910B.
    assert labels["node.kubernetes.io/npu.chip.name"] == "910B3"
    assert labels["suanli.dev/pool"] == "ascend-cnn1"


def test_cpu_job_avoids_gpu_nodes_when_others_fit(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    for index in range(8):
        name = _create(control_plane, namespace, suanli_pod(f"cpu-{index}", cpu="4", memory="8Gi"))
        labels = node_labels(core, node_of(core, namespace, name))
        # No vendor's labeller has named a device on the node.
        assert not labels.keys() & {
            GPU_PRODUCT,
            "amd.com/gpu.product-name",
            "node.kubernetes.io/npu.chip.name",
            "Model",
            "hygon.com/dcu.name",
            "suanli.dev/accelerator.product",
        }


def test_price_ceiling_makes_a_job_wait_with_the_reason(
    control_plane: ControlPlane, namespace: str
) -> None:
    demand = {"acceleratorTypes": ["H100"], "maxPricePerHour": 5}
    name = _create(control_plane, namespace, suanli_pod("pricey", demand=demand, gpus=8))
    reason = _unschedulable(control_plane, namespace, name)
    assert "price" in reason
    events = control_plane.kubectl(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )
    assert "price" in events


def test_bad_demand_is_reported_not_crashed_on(
    control_plane: ControlPlane, extender: Extender, namespace: str
) -> None:
    pod = suanli_pod("typo", gpus=1)
    pod["metadata"]["annotations"]["suanli.dev/demand"] = '{"acceleratorTypo": ["H100"]}'
    name = _create(control_plane, namespace, pod)
    reason = _unschedulable(control_plane, namespace, name)
    assert "acceleratorTypo" in reason
    assert (
        'suanli_extender_bad_requests_total{reason="invalid_demand",verb="filter"}'
        in extender.metrics()
    )


def test_extender_down_pods_wait_then_bind_once_after_restart(
    control_plane: ControlPlane, extender: Extender, namespace: str
) -> None:
    core = control_plane.core
    extender.stop()
    try:
        for index in range(3):
            _create(
                control_plane,
                namespace,
                suanli_pod(f"wait-{index}", demand={"acceleratorTypes": ["L40S"]}, gpus=1),
            )
        eventually(
            lambda: "FailedScheduling" in control_plane.kubectl("get", "events", "-n", namespace),
            30,
            "scheduling attempts failing while the extender is down",
        )
        assert all(
            not (raw_pod(core, namespace, f"wait-{i}") or {})["spec"].get("nodeName")
            for i in range(3)
        )
    finally:
        extender.start()
    nodes = [node_of(core, namespace, f"wait-{i}", timeout=90) for i in range(3)]
    assert all(n.startswith("l40s-") for n in nodes)
    scheduled = control_plane.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=Scheduled", "-o", "json"
    )
    per_pod: dict[str, int] = {}
    for event in json.loads(scheduled)["items"]:
        per_pod[event["involvedObject"]["name"]] = (
            per_pod.get(event["involvedObject"]["name"], 0) + 1
        )
    assert per_pod == {"wait-0": 1, "wait-1": 1, "wait-2": 1}
