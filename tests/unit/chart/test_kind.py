"""kind-config.yaml: a fleet kind can create and Suanli reads as intended."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from suanli.scoring import node_facts, parse_catalog, parse_latency
from tests.unit.chart.helm import ROOT, render

KIND_CONFIG = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
WORKERS = [n for n in KIND_CONFIG["nodes"] if n["role"] == "worker"]
KIND_DOC = (ROOT / "docs" / "kind.md").read_text()
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
# The kubelet's --node-labels rule (k8s.io/kubelet/pkg/apis/well_known_labels.go): keys in the
# kubernetes.io / k8s.io namespaces must be in this set or under these namespace suffixes.
KUBELET_LABELS = {
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
}
KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def kubelet_may_set(key: str) -> bool:
    namespace = key.split("/", 1)[0] if "/" in key else ""
    restricted = any(
        namespace == domain or namespace.endswith(f".{domain}")
        for domain in ("kubernetes.io", "k8s.io")
    )
    if not restricted or key in KUBELET_LABELS:
        return True
    return any(namespace == ns or namespace.endswith(f".{ns}") for ns in KUBELET_NAMESPACES)


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("nvidia.com/gpu.product", True),
        ("suanli.dev/tier", True),
        ("topology.kubernetes.io/zone", True),
        ("feature.node.kubernetes.io/rdma.capable", True),
        ("node-role.kubernetes.io/edge", False),
        ("kubernetes.io/role", False),
        ("example.k8s.io/x", False),
    ],
)
def test_kubelet_label_rule(key: str, allowed: bool) -> None:
    assert kubelet_may_set(key) is allowed


def test_is_a_kind_cluster_with_one_control_plane_and_workers() -> None:
    assert KIND_CONFIG["kind"] == "Cluster"
    assert KIND_CONFIG["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in KIND_CONFIG["nodes"]]
    assert roles.count("control-plane") == 1
    assert len(WORKERS) >= 4


@pytest.mark.parametrize("index", range(len(WORKERS)))
def test_worker_labels_are_ones_the_kubelet_accepts(index: int) -> None:
    for key, value in WORKERS[index]["labels"].items():
        assert kubelet_may_set(key), key
        assert isinstance(value, str), key
        assert len(value) <= 63, key
        assert LABEL_VALUE.match(value), key


def _node(index: int, worker: dict[str, Any]) -> dict[str, Any]:
    """The worker as the apiserver will show it after docs/kind.md's fake-GPU step."""
    labels = worker["labels"]
    allocatable = {"cpu": "8", "memory": "16Gi", "pods": "110"}
    if GPU_COUNT_LABEL in labels:
        allocatable["nvidia.com/gpu"] = labels[GPU_COUNT_LABEL]
    return {
        "metadata": {"name": f"suanli-worker{index or ''}", "labels": labels},
        "status": {"allocatable": allocatable},
    }


def test_the_fleet_reads_as_a_heterogeneous_gpu_hpc_edge_estate() -> None:
    chart = render()
    catalog = parse_catalog(chart.get("ConfigMap", "suanli-catalog")["data"]["catalog.yaml"])
    latency = parse_latency(chart.get("ConfigMap", "suanli-catalog")["data"]["latency.yaml"])
    facts = [node_facts(_node(i, w), catalog) for i, w in enumerate(WORKERS)]
    types = [
        f.accelerator.type.name if f.accelerator and f.accelerator.type else None for f in facts
    ]
    assert types == ["H100", "A100", "T4", "L4", None]
    assert [f.accelerator.count if f.accelerator else 0 for f in facts] == [8, 8, 4, 1, 0]
    assert {f.tier.value for f in facts} == {"cloud", "edge", "device"}
    infiniband = [f for f in facts if f.interconnect == "infiniband"]
    assert len(infiniband) == 2
    assert all(f.rdma for f in infiniband)
    assert len({f.rack for f in infiniband}) == 2
    for fact in facts:
        if fact.site:
            assert fact.site in latency.places, fact.site


def test_fake_gpu_step_covers_every_gpu_worker() -> None:
    # docs/kind.md advertises nvidia.com/gpu from the count label; a GPU worker without it
    # would stay without capacity.
    assert f"-l {GPU_COUNT_LABEL}" in KIND_DOC
    for worker in WORKERS:
        if "nvidia.com/gpu.product" in worker["labels"]:
            assert worker["labels"][GPU_COUNT_LABEL].isdigit()
