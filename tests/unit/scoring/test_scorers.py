"""Each signal alone, table-driven in the style of kube-scheduler's score plugin tests."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.scoring import (
    DEFAULT_CONFIG,
    BillingMultipliers,
    Catalog,
    LatencyMap,
    NodeSnapshot,
    PodDemand,
    ScoringConfig,
    node_facts,
)
from suanli.scoring.context import Peer, build_context
from suanli.scoring.scorers import accelerator, cost, hpc, locality, packing
from suanli.scoring.scorers.signal import Scorer

from .helpers import A100, L40S, T4, demand, gpu_node, node, snap

_IB = {"suanli.dev/interconnect": "infiniband", "feature.node.kubernetes.io/rdma.capable": "true"}


def _value(
    scorer: Scorer,
    d: PodDemand,
    n: NodeSnapshot,
    catalog: Catalog,
    latency: LatencyMap,
    *,
    peers: tuple[Peer, ...] = (),
    config: ScoringConfig = DEFAULT_CONFIG,
) -> float:
    context = build_context(d, [n], catalog, latency, peers=peers, config=config)
    signal = scorer(context, n)
    assert 0.0 <= signal.value <= 1.0
    assert signal.why
    return signal.value


# --- accelerator -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "requests", "spec", "expected"),
    [
        pytest.param(node("n"), {"cpu": "1"}, {}, 1.0, id="CPU pod, CPU node"),
        pytest.param(gpu_node("n"), {"cpu": "1"}, {}, 0.0, id="CPU pod avoids GPU nodes"),
        pytest.param(
            gpu_node("n"),
            {"nvidia.com/gpu": "8"},
            {"acceleratorTypes": ["H100", "A100"]},
            1.0,
            id="first choice, whole node, fastest",
        ),
        pytest.param(
            gpu_node("n", **A100),
            {"nvidia.com/gpu": "8"},
            {"acceleratorTypes": ["H100", "A100"]},
            (0 + 0.45) / 2,
            id="second choice sits in the lower band",
        ),
        pytest.param(
            gpu_node("n"), {"nvidia.com/gpu": "8"}, {}, 1.0, id="any type: whole node wants speed"
        ),
        pytest.param(
            gpu_node("n", **T4), {"nvidia.com/gpu": "4"}, {}, 0.07, id="any type: slow device"
        ),
        pytest.param(
            gpu_node("n"), {"nvidia.com/gpu": "1"}, {}, 1 / 8, id="one H100 of eight is waste"
        ),
        pytest.param(
            gpu_node("n", **T4),
            {"nvidia.com/gpu": "1", "cpu": "1"},
            {"minAcceleratorMemoryGiB": 15},
            0.25 * 0.07 + 0.75 * 1.0,
            id="snug memory",
        ),
    ],
)
def test_accelerator(
    *,
    catalog: Catalog,
    latency: LatencyMap,
    raw: dict[str, Any],
    requests: dict[str, str],
    spec: dict[str, Any],
    expected: float,
) -> None:
    value = _value(
        accelerator.score, demand(requests, **spec), snap(raw, catalog), catalog, latency
    )
    assert value == pytest.approx(expected)


def test_accelerator_small_job_prefers_small_device(catalog: Catalog, latency: LatencyMap) -> None:
    d = demand({"nvidia.com/gpu": "1"}, minAcceleratorMemoryGiB=12)
    t4 = _value(accelerator.score, d, snap(gpu_node("n", **T4), catalog), catalog, latency)
    l40s = _value(accelerator.score, d, snap(gpu_node("n", **L40S), catalog), catalog, latency)
    h100 = _value(accelerator.score, d, snap(gpu_node("n"), catalog), catalog, latency)
    assert t4 > l40s > h100


def test_accelerator_preference_dominates_speed(catalog: Catalog, latency: LatencyMap) -> None:
    # A user who prefers the A100 (cost, availability) gets it ranked above a faster H100.
    d = demand({"nvidia.com/gpu": "8"}, acceleratorTypes=["A100", "H100"])
    a100 = _value(accelerator.score, d, snap(gpu_node("n", **A100), catalog), catalog, latency)
    h100 = _value(accelerator.score, d, snap(gpu_node("n"), catalog), catalog, latency)
    assert a100 >= 0.5 >= h100


# --- hpc -------------------------------------------------------------------------------------


def _rack(name: str, rack: str | None) -> dict[str, Any]:
    return node(name, {"suanli.dev/rack": rack, **_IB} if rack else _IB)


@pytest.mark.parametrize(
    ("raw", "spec", "peer_racks", "expected"),
    [
        pytest.param(node("n"), {}, [], 1.0, id="plain work, plain node"),
        pytest.param(node("n", _IB), {}, [], 0.5, id="plain work on an HPC node"),
        pytest.param(
            node("n", {"suanli.dev/interconnect": "ethernet"}),
            {},
            [],
            1.0,
            id="ethernet is not HPC",
        ),
        pytest.param(
            node("n", _IB), {"interconnect": "infiniband", "rdma": True}, [], 1.0, id="match"
        ),
        pytest.param(
            node("n", {"feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true"}),
            {"cpuFeatures": ["AVX512F", "AMXTILE"]},
            [],
            0.5,
            id="half the features",
        ),
        pytest.param(
            _rack("n", "rack-1"),
            {"sameDomain": "rack"},
            ["rack-1", "rack-1", "rack-2"],
            2 / 3,
            id="rack holding most peers",
        ),
        pytest.param(
            _rack("n", "rack-2"),
            {"sameDomain": "rack"},
            ["rack-1", "rack-1", "rack-2"],
            1 / 3,
            id="rack holding fewer peers",
        ),
        pytest.param(_rack("n", "rack-2"), {"sameDomain": "rack"}, [], 1.0, id="first pod"),
        pytest.param(_rack("n", None), {"sameDomain": "rack"}, [], 0.0, id="no rack label"),
    ],
)
def test_hpc(
    *,
    catalog: Catalog,
    latency: LatencyMap,
    raw: dict[str, Any],
    spec: dict[str, Any],
    peer_racks: list[str],
    expected: float,
) -> None:
    peers = tuple(
        node_facts(_rack(f"peer-{i}", rack), catalog) for i, rack in enumerate(peer_racks)
    )
    d = demand({"cpu": "1"}, **spec)
    assert _value(hpc.score, d, snap(raw, catalog), catalog, latency, peers=peers) == pytest.approx(
        expected
    )


# --- locality --------------------------------------------------------------------------------

_SH = {
    "suanli.dev/tier": "edge",
    "suanli.dev/site": "sh-edge-1",
    "topology.kubernetes.io/zone": "cn-east-1-sh",
}
_DEVICE = {**_SH, "suanli.dev/tier": "device"}
_CN_EAST = {
    "topology.kubernetes.io/region": "cn-east-1",
    "topology.kubernetes.io/zone": "cn-east-1a",
}
_US_EAST = {
    "topology.kubernetes.io/region": "us-east-1",
    "topology.kubernetes.io/zone": "us-east-1a",
}


@pytest.mark.parametrize(
    ("labels", "spec", "expected"),
    [
        pytest.param(_US_EAST, {}, 1.0, id="no ask: cloud"),
        pytest.param(_SH, {}, 0.6, id="no ask: edge kept for edge work"),
        pytest.param(_DEVICE, {}, 0.3, id="no ask: device kept for device work"),
        pytest.param(_SH, {"tiers": ["edge", "cloud"]}, 1.0, id="first tier"),
        pytest.param(_US_EAST, {"tiers": ["edge", "cloud"]}, 0.5, id="second tier"),
        pytest.param(_SH, {"zones": ["us-east-1a", "cn-east-1-sh"]}, 0.5, id="second zone"),
        pytest.param(_SH, {"sites": ["sh-edge-1"], "maxLatencyMs": 20}, 1.0, id="at the site"),
        pytest.param(
            _CN_EAST, {"sites": ["sh-edge-1"], "maxLatencyMs": 20}, 1 - 3 / 20, id="3 ms of 20"
        ),
        pytest.param(_US_EAST, {"sites": ["sh-edge-1"]}, 1 - 220 / 250, id="220 ms of horizon"),
        pytest.param(
            {"topology.kubernetes.io/region": "mars"},
            {"sites": ["sh-edge-1"]},
            0.0,
            id="unknown latency scores worst",
        ),
        pytest.param(
            _DEVICE,
            {"tiers": ["edge", "device"], "sites": ["sh-edge-1"]},
            (0.5 + 1) / 2,
            id="parts are averaged",
        ),
    ],
)
def test_locality(
    catalog: Catalog,
    latency: LatencyMap,
    labels: dict[str, str],
    spec: dict[str, Any],
    expected: float,
) -> None:
    d = demand({"cpu": "1"}, **spec)
    value = _value(locality.score, d, snap(node("n", labels), catalog), catalog, latency)
    assert value == pytest.approx(expected)


# --- cost ------------------------------------------------------------------------------------


def test_cost_cheaper_share_scores_higher(catalog: Catalog, latency: LatencyMap) -> None:
    d = demand({"nvidia.com/gpu": "1"})
    t4 = _value(cost.score, d, snap(gpu_node("n", **T4), catalog), catalog, latency)
    h100 = _value(cost.score, d, snap(gpu_node("n"), catalog), catalog, latency)
    assert t4 > h100


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"maxPricePerHour": 98.32}, 0.0),  # at the ceiling
        ({"maxPricePerHour": 98.32, "billing": "spot"}, None),  # cheaper when billed spot
    ],
)
def test_cost_ceiling_and_billing(
    catalog: Catalog, latency: LatencyMap, spec: dict[str, Any], expected: float | None
) -> None:
    value = _value(
        cost.score,
        demand({"nvidia.com/gpu": "8"}, **spec),
        snap(gpu_node("n"), catalog),
        catalog,
        latency,
    )
    if expected is None:
        assert value > 0.2
    else:
        assert value == pytest.approx(expected)


def test_cost_billing_multipliers_are_configurable(catalog: Catalog, latency: LatencyMap) -> None:
    d = demand({"nvidia.com/gpu": "8"}, billing="spot", maxPricePerHour=100)
    n = snap(gpu_node("n", price=100), catalog)
    free = ScoringConfig(billing=BillingMultipliers(spot=0.0))
    full = ScoringConfig(billing=BillingMultipliers(spot=1.0))
    assert _value(cost.score, d, n, catalog, latency, config=free) == 1.0
    assert _value(cost.score, d, n, catalog, latency, config=full) == 0.0
    assert DEFAULT_CONFIG.billing.spot == 0.35
    assert DEFAULT_CONFIG.billing.reserved == 0.6


def test_cost_free_node(catalog: Catalog, latency: LatencyMap) -> None:
    assert _value(cost.score, demand({"cpu": "1"}), snap(node("n"), catalog), catalog, latency) == 1


# --- packing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "used", "requests", "expected"),
    [
        pytest.param(
            node("n", allocatable={"cpu": "10", "memory": "10Gi", "pods": "10"}),
            {},
            {"cpu": "5", "memory": "1Gi"},
            (0.5 + 0.1) / 2,
            id="most allocated, empty",
        ),
        pytest.param(
            node("n", allocatable={"cpu": "10", "memory": "10Gi", "pods": "10"}),
            {"cpu": 4000, "memory": 8 * 2**30},
            {"cpu": "5", "memory": "1Gi"},
            (0.9 + 0.9) / 2,
            id="most allocated, partly used",
        ),
        pytest.param(
            node("n", allocatable={"cpu": "10", "pods": "10"}),
            {},
            {},
            0.1,
            id="a pod asking nothing takes a pod slot",
        ),
        pytest.param(gpu_node("n"), {}, {"nvidia.com/gpu": "8"}, 1.0, id="whole node: no waste"),
        pytest.param(
            gpu_node("n"), {}, {"nvidia.com/gpu": "1"}, 1 / 8 * 0.5, id="breaks an idle node"
        ),
        pytest.param(
            gpu_node("n"),
            {"nvidia.com/gpu": 4},
            {"nvidia.com/gpu": "1"},
            5 / 8,
            id="fills a used one",
        ),
        pytest.param(
            gpu_node("n"),
            {"nvidia.com/gpu": 4, "cpu": 48_000},
            {"nvidia.com/gpu": "1", "cpu": "48"},
            (2 * 5 / 8 + 1.0) / 3,
            id="devices count double",
        ),
    ],
)
def test_packing(
    *,
    catalog: Catalog,
    latency: LatencyMap,
    raw: dict[str, Any],
    used: dict[str, int],
    requests: dict[str, str],
    expected: float,
) -> None:
    value = _value(packing.score, demand(requests), snap(raw, catalog, used), catalog, latency)
    assert value == pytest.approx(expected)
