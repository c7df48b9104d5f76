from __future__ import annotations

from typing import Any

import pytest

from suanli.scoring import (
    Catalog,
    LatencyMap,
    NodeFacts,
    Outcome,
    Verdict,
    aggregate_reasons,
    evaluate,
    node_facts,
)

from .helpers import T4, demand, gpu_node, node, snap

_EDGE_SH = {
    "suanli.dev/tier": "edge",
    "suanli.dev/site": "sh-edge-1",
    "topology.kubernetes.io/zone": "cn-east-1-sh",
}
_CLOUD_USE1 = {
    "topology.kubernetes.io/region": "us-east-1",
    "topology.kubernetes.io/zone": "us-east-1a",
}
_IB = {
    "suanli.dev/interconnect": "infiniband",
    "feature.node.kubernetes.io/rdma.capable": "true",
    "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
    "suanli.dev/rack": "rack-2",
}
_GPU = {"nvidia.com/gpu": "1"}

# (id, node dict, used resources on it, pod requests, demand spec, outcome, reason, category)
CASES: list[
    tuple[str, dict[str, Any], dict[str, int], dict[str, str], dict[str, Any], Outcome, str, str]
] = [
    (
        "fits",
        gpu_node("n"),
        {},
        _GPU,
        {"acceleratorTypes": ["H100"]},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "type not accepted",
        gpu_node("n", **T4),
        {},
        _GPU,
        {"acceleratorTypes": ["H100", "A100"]},
        Outcome.UNRESOLVABLE,
        "accelerator type T4 not in [H100, A100]",
        "accelerator type not in [H100, A100]",
    ),
    (
        "type written as a label value or in lower case",
        gpu_node("n"),
        {},
        _GPU,
        {"acceleratorTypes": ["nvidia-h100-80gb-hbm3", "a100"]},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "unknown product",
        gpu_node("n", "Quadro-P4000"),
        {},
        _GPU,
        {"acceleratorTypes": ["H100"]},
        Outcome.UNRESOLVABLE,
        "accelerator type unknown (Quadro-P4000) not in [H100]",
        "accelerator type not in [H100]",
    ),
    (
        "no accelerator",
        node("n"),
        {},
        {"nvidia.com/gpu": "8"},
        {},
        Outcome.UNRESOLVABLE,
        "no accelerator (want 8 nvidia.com/gpu)",
        "no accelerator",
    ),
    (
        "type named but no devices requested still needs an accelerator",
        node("n"),
        {},
        {"cpu": "1"},
        {"acceleratorTypes": ["T4"]},
        Outcome.UNRESOLVABLE,
        "no accelerator",
        "no accelerator",
    ),
    (
        "other vendor's devices",
        node("n", {"amd.com/gpu.product-name": "AMD-Instinct-MI300X"}, {"amd.com/gpu": "8"}),
        {},
        {"nvidia.com/gpu": "1"},
        {},
        Outcome.UNRESOLVABLE,
        "accelerator is amd.com/gpu, want nvidia.com/gpu",
        "no nvidia.com/gpu",
    ),
    (
        "device memory too small",
        gpu_node("n", **T4),
        {},
        _GPU,
        {"minAcceleratorMemoryGiB": 40},
        Outcome.UNRESOLVABLE,
        "accelerator memory 15 GiB < 40 GiB",
        "accelerator memory below 40 GiB",
    ),
    (
        "device memory at the nominal size (label is usable memory)",
        gpu_node("n"),
        {},
        _GPU,
        {"minAcceleratorMemoryGiB": 80},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "missing interconnect",
        node("n"),
        {},
        {"cpu": "1"},
        {"interconnect": "infiniband"},
        Outcome.UNRESOLVABLE,
        "interconnect none, want infiniband",
        "interconnect not infiniband",
    ),
    (
        "wrong interconnect",
        node("n", {"suanli.dev/interconnect": "roce"}),
        {},
        {"cpu": "1"},
        {"interconnect": "infiniband"},
        Outcome.UNRESOLVABLE,
        "interconnect roce, want infiniband",
        "interconnect not infiniband",
    ),
    (
        "missing RDMA",
        node("n"),
        {},
        {"cpu": "1"},
        {"rdma": True},
        Outcome.UNRESOLVABLE,
        "no RDMA",
        "no RDMA",
    ),
    (
        "missing CPU feature",
        node("n", _IB),
        {},
        {"cpu": "1"},
        {"cpuFeatures": ["AVX512F", "AMXTILE"]},
        Outcome.UNRESOLVABLE,
        "missing CPU features [AMXTILE]",
        "missing CPU features [AMXTILE]",
    ),
    (
        "tier not accepted",
        node("n", _CLOUD_USE1),
        {},
        {"cpu": "1"},
        {"tiers": ["edge", "device"]},
        Outcome.UNRESOLVABLE,
        "tier cloud not in [edge, device]",
        "tier not in [edge, device]",
    ),
    (
        "zone not accepted",
        node("n", _CLOUD_USE1),
        {},
        {"cpu": "1"},
        {"zones": ["cn-east-1-sh"]},
        Outcome.UNRESOLVABLE,
        "zone us-east-1a not in [cn-east-1-sh]",
        "zone not in [cn-east-1-sh]",
    ),
    (
        "too far from the data",
        node("n", _CLOUD_USE1),
        {},
        {"cpu": "1"},
        {"sites": ["sh-edge-1"], "maxLatencyMs": 20},
        Outcome.UNRESOLVABLE,
        "latency to sh-edge-1 is 220 ms > 20 ms",
        "latency to site sh-edge-1 above 20 ms",
    ),
    (
        "close to the data",
        node("n", _EDGE_SH),
        {},
        {"cpu": "1"},
        {"sites": ["sh-edge-1"], "maxLatencyMs": 20},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "latency unknown",
        node("n", {"topology.kubernetes.io/region": "mars-1"}),
        {},
        {"cpu": "1"},
        {"sites": ["sh-edge-1", "bj-edge-1"], "maxLatencyMs": 50},
        Outcome.UNRESOLVABLE,
        "latency to [bj-edge-1, sh-edge-1] unknown",
        "latency to sites [bj-edge-1, sh-edge-1] unknown",
    ),
    (
        "over the price ceiling",
        gpu_node("n"),
        {},
        {"nvidia.com/gpu": "8"},
        {"maxPricePerHour": 40},
        Outcome.UNRESOLVABLE,
        "price 98.32 USD/h (on-demand) for 8 of 8 nvidia.com/gpu > 40 USD/h",
        "price above 40 USD/h",
    ),
    (
        "the share of the node is what is priced",
        gpu_node("n"),
        {},
        {"nvidia.com/gpu": "2"},
        {"maxPricePerHour": 40},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "spot billing brings it under the ceiling",
        gpu_node("n"),
        {},
        {"nvidia.com/gpu": "8"},
        {"maxPricePerHour": 40, "billing": "spot"},
        Outcome.FEASIBLE,
        "",
        "",
    ),
    (
        "CPU work priced by its dominant share",
        node("n", allocatable={"cpu": "10", "memory": "10Gi", "pods": "10"}, price=10),
        {},
        {"cpu": "1", "memory": "5Gi"},
        {"maxPricePerHour": 4},
        Outcome.UNRESOLVABLE,
        "price 5 USD/h (on-demand) for 50% of the node > 4 USD/h",
        "price above 4 USD/h",
    ),
    (
        "node too small even when empty",
        gpu_node("n", **T4),
        {},
        {"nvidia.com/gpu": "8"},
        {},
        Outcome.UNRESOLVABLE,
        "nvidia.com/gpu allocatable 4 < 8",
        "too little allocatable nvidia.com/gpu",
    ),
    (
        "not enough memory on the node at all",
        node("n"),
        {},
        {"memory": "200Gi"},
        {},
        Outcome.UNRESOLVABLE,
        "memory allocatable 128Gi < 200Gi",
        "too little allocatable memory",
    ),
    (
        "devices busy right now",
        gpu_node("n"),
        {"nvidia.com/gpu": 6},
        {"nvidia.com/gpu": "8"},
        {},
        Outcome.RESOLVABLE,
        "insufficient nvidia.com/gpu (free 2, want 8)",
        "insufficient nvidia.com/gpu",
    ),
    (
        "cpu busy right now",
        node("n"),
        {"cpu": 31_500},
        {"cpu": "1"},
        {},
        Outcome.RESOLVABLE,
        "insufficient cpu (free 500m, want 1)",
        "insufficient cpu",
    ),
    (
        "memory busy right now",
        node("n"),
        {"memory": 127 * 2**30},
        {"memory": "2Gi"},
        {},
        Outcome.RESOLVABLE,
        "insufficient memory (free 1Gi, want 2Gi)",
        "insufficient memory",
    ),
    (
        "other extended resource busy",
        node("n", allocatable={"cpu": "4", "pods": "10", "rdma/hca_shared_devices_a": "2"}),
        {"rdma/hca_shared_devices_a": 2},
        {"rdma/hca_shared_devices_a": "1"},
        {},
        Outcome.RESOLVABLE,
        "insufficient rdma/hca_shared_devices_a (free 0, want 1)",
        "insufficient rdma/hca_shared_devices_a",
    ),
]


@pytest.mark.parametrize(
    ("raw", "used", "requests", "spec", "outcome", "reason", "category"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_filter(
    *,
    catalog: Catalog,
    latency: LatencyMap,
    raw: dict[str, Any],
    used: dict[str, int],
    requests: dict[str, str],
    spec: dict[str, Any],
    outcome: Outcome,
    reason: str,
    category: str,
) -> None:
    decision = evaluate(demand(requests, **spec), [snap(raw, catalog, used)], catalog, latency)
    verdict = decision.result("n").verdict
    assert (verdict.outcome, verdict.reason, verdict.category) == (outcome, reason, category)
    assert decision.ranking == (("n",) if outcome is Outcome.FEASIBLE else ())


def test_pods_full(catalog: Catalog, latency: LatencyMap) -> None:
    raw = node("n", allocatable={"cpu": "4", "pods": "2"})
    verdict = evaluate(demand(), [snap(raw, catalog, pods=2)], catalog, latency).result("n").verdict
    assert verdict.outcome is Outcome.RESOLVABLE
    assert verdict.reason == "insufficient pods (free 0, want 1)"


@pytest.mark.parametrize(
    ("peer_racks", "node_labels", "outcome", "reason"),
    [
        (["rack-1"], {"suanli.dev/rack": "rack-1"}, Outcome.FEASIBLE, ""),
        (
            ["rack-1"],
            {"suanli.dev/rack": "rack-2"},
            Outcome.UNRESOLVABLE,
            "rack rack-2; job peers are in rack [rack-1]",
        ),
        (["rack-1"], {}, Outcome.UNRESOLVABLE, "no rack label; job peers are in rack [rack-1]"),
        ([], {"suanli.dev/rack": "rack-2"}, Outcome.FEASIBLE, ""),  # the first pod chooses
    ],
)
def test_same_domain(
    *,
    catalog: Catalog,
    latency: LatencyMap,
    peer_racks: list[str],
    node_labels: dict[str, str],
    outcome: Outcome,
    reason: str,
) -> None:
    # Peers given as facts: their nodes need not be candidates (a full node is not offered).
    peers: list[NodeFacts] = [
        node_facts(node(f"peer-{i}", {"suanli.dev/rack": rack}), catalog)
        for i, rack in enumerate(peer_racks)
    ]
    d = demand({"cpu": "1"}, sameDomain="rack")
    decision = evaluate(d, [snap(node("n", node_labels), catalog)], catalog, latency, peers=peers)
    verdict = decision.result("n").verdict
    assert (verdict.outcome, verdict.reason) == (outcome, reason)
    if outcome is not Outcome.FEASIBLE:
        assert verdict.category == "not in the same rack as job peers"


def test_same_node_domain_by_peer_name(catalog: Catalog, latency: LatencyMap) -> None:
    nodes = [snap(node("a"), catalog), snap(node("b"), catalog)]
    d = demand({"cpu": "1"}, sameDomain="node")
    decision = evaluate(d, nodes, catalog, latency, peers=["b", "unknown-node"])
    assert decision.ranking == ("b",)


def test_aggregate_reasons() -> None:
    verdicts = [
        *(
            Verdict(f"t{i}", Outcome.UNRESOLVABLE, "x", "accelerator type not in [H100, A100]")
            for i in range(212)
        ),
        *(
            Verdict(f"l{i}", Outcome.UNRESOLVABLE, "y", "latency to site sh-edge-1 above 20 ms")
            for i in range(31)
        ),
        *(
            Verdict(f"g{i}", Outcome.RESOLVABLE, "z", "insufficient nvidia.com/gpu")
            for i in range(4)
        ),
        Verdict("r", Outcome.UNRESOLVABLE, "no RDMA", "no RDMA"),
        Verdict("c", Outcome.UNRESOLVABLE, "no accelerator", "no accelerator"),
        Verdict("ok", Outcome.FEASIBLE),
    ]
    expected = (
        "212 nodes: accelerator type not in [H100, A100]; "
        "31 nodes: latency to site sh-edge-1 above 20 ms; "
        "4 nodes: insufficient nvidia.com/gpu; "
        "1 node: no accelerator; 1 node: no RDMA"
    )
    assert aggregate_reasons(verdicts) == expected
    assert aggregate_reasons(reversed(verdicts)) == aggregate_reasons(verdicts)
    assert aggregate_reasons([Verdict("ok", Outcome.FEASIBLE)]) == ""
