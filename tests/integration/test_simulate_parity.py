"""One scoring implementation: a scenario placed by the live extender and by `suanli simulate`.

The scenario's nodes are registered next to the demo fleet and its pods select them with a node
selector, so kube-scheduler only offers them to the extender; its GPU models (V100, A10) and its
GPU pods' accepted models keep the demo fleet out of the workload too. Pods are created one at a
time, each after the previous one is bound, as the replay places them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kubernetes import client

from suanli.devcluster.nodes import apply_nodes
from suanli.fleet.nodes import KWOK_NODE_ANNOTATION
from suanli.keys import GPU_DEVICES_ANNOTATION
from suanli.simulate.replay import replay
from suanli.simulate.run import RunSpec, load_scoring_files
from suanli.simulate.trace import NodeRow, PodRow, node_object, pod_object
from tests.integration.conftest import ControlPlane, Extender
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_of,
    owning_job,
    raw_pod,
)

SCENARIO_LABEL = "suanli.dev/scenario"
GIB = 1024

NODES = (
    NodeRow("v100x4-0", 32_000, 128 * GIB, 4, "V100"),
    NodeRow("v100x4-1", 32_000, 128 * GIB, 4, "V100"),
    NodeRow("a10x2-0", 16_000, 64 * GIB, 2, "A10"),
    NodeRow("a10x2-1", 16_000, 64 * GIB, 2, "A10"),
)
BOTH = ("V100", "A10")
# (cpu cores, memory GiB, whole GPUs, share milli, accepted models)
PODS: tuple[tuple[int, int, int, int, tuple[str, ...]], ...] = (
    (2, 8, 0, 500, BOTH),
    (1, 4, 0, 250, BOTH),
    (4, 16, 1, 0, ("A10",)),
    (2, 8, 0, 750, ("V100",)),
    (4, 8, 0, 0, ()),
    (2, 8, 0, 500, ("A10", "V100")),
    (8, 32, 2, 0, ("V100",)),
    (1, 4, 0, 250, BOTH),
    (2, 8, 0, 330, ("A10",)),
    (4, 16, 1, 0, BOTH),
    (1, 2, 0, 100, BOTH),
    (8, 16, 0, 0, ()),
    (2, 8, 0, 500, BOTH),
    (8, 32, 2, 0, BOTH),
)


def _rows(suffix: str) -> tuple[list[NodeRow], list[PodRow]]:
    nodes = [replace(n, sn=f"{n.sn}-{suffix}") for n in NODES]
    pods = [
        PodRow(
            f"p{index:02d}",
            cpu * 1000,
            memory * GIB,
            whole or (1 if milli else 0),
            milli if milli else 1000,
            spec,
        )
        for index, (cpu, memory, whole, milli, spec) in enumerate(PODS)
    ]
    return nodes, pods


def _node_manifest(row: NodeRow, scenario: str) -> dict[str, Any]:
    manifest = node_object(row)
    manifest["metadata"]["labels"][SCENARIO_LABEL] = scenario
    manifest["metadata"]["annotations"][KWOK_NODE_ANNOTATION] = "fake"
    return manifest


def _schedulable(core: client.CoreV1Api, names: list[str]) -> bool:
    """Ready, and without the not-ready taint the node lifecycle controller lifts a moment
    later: until then kube-scheduler would not offer the node at all."""
    for name in names:
        node = core.read_node(name)
        conditions = node.status.conditions or []
        if not any(c.type == "Ready" and c.status == "True" for c in conditions):
            return False
        if node.spec.taints:
            return False
    return True


@pytest.fixture
def scenario(
    control_plane: ControlPlane, extender: Extender, computejob_crd: None
) -> Iterator[tuple[str, str]]:
    core = control_plane.core
    suffix = uuid.uuid4().hex[:6]
    nodes, _ = _rows(suffix)
    apply_nodes(core, [_node_manifest(n, suffix) for n in nodes])
    eventually(lambda: _schedulable(core, [n.sn for n in nodes]), 60, "scenario nodes schedulable")
    namespace = new_namespace(core, "parity")
    try:
        yield suffix, namespace
    finally:
        delete_namespace_and_wait(core, namespace)
        for node in nodes:
            core.delete_node(node.sn)


def test_extender_and_simulate_place_alike(
    control_plane: ControlPlane, scenario: tuple[str, str]
) -> None:
    suffix, namespace = scenario
    nodes, pods = _rows(suffix)
    core = control_plane.core
    # The extender believes a pod's share annotation only when a ComputeJob it knows owns it.
    owner = owning_job(core, namespace)
    live: list[tuple[str, str | None, str]] = []
    for row in pods:
        pod = pod_object(row, namespace=namespace)
        pod["spec"]["nodeSelector"] = {SCENARIO_LABEL: suffix}
        pod["metadata"]["ownerReferences"] = [owner]
        core.create_namespaced_pod(namespace, pod)
        node = node_of(core, namespace, row.name, timeout=60)
        bound = raw_pod(core, namespace, row.name) or {}
        devices = (bound["metadata"].get("annotations") or {}).get(GPU_DEVICES_ANNOTATION, "")
        live.append((row.name, node, devices))

    catalog, latency = load_scoring_files(RunSpec(tuple(nodes), tuple(pods)))
    simulated = replay(
        nodes, pods, "suanli", catalog=catalog, latency=latency, keep_placements=True
    )
    assert [(p.pod, p.node, p.devices) for p in simulated.placements] == live
    # The scenario exercises what it is meant to: shares packed onto shared devices, whole
    # devices, CPU-only pods and both models.
    assert any(":" in devices for _, _, devices in live)
    assert {node.rsplit("-", 2)[0] for _, node, _ in live if node} == {"v100x4", "a10x2"}
