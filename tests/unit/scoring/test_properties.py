"""Properties over random demands and cluster states, on one node of every fleet pool."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scoring import (
    MAX_SCORE,
    Catalog,
    NodeSnapshot,
    NodeUsage,
    PodDemand,
    Resources,
    evaluate,
    node_facts,
    parse_pod,
)

from .helpers import default_catalog, default_latency, fleet_nodes, gpu_node, pod

CATALOG = default_catalog()
LATENCY = default_latency()
# One node of each pool (index 0 and 1 where the pool has racks) keeps every run fast.
_RAW = [n for n in fleet_nodes() if n["metadata"]["name"].rsplit("-", 1)[1] in {"0", "1"}]
FACTS = [node_facts(n, CATALOG) for n in _RAW]
RESOURCES = ["cpu", "memory", "nvidia.com/gpu", "amd.com/gpu", "huawei.com/Ascend910"]
NVIDIA = ["H100", "A100", "L40S", "T4", "L4", "A2", "H200", "V100"]

_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _subset(items: list[str], min_size: int = 0) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), unique=True, min_size=min_size, max_size=len(items))


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "acceleratorTypes": _subset([*NVIDIA, "MI300X", "Ascend910B"]),
        "minAcceleratorMemoryGiB": st.sampled_from([8, 16, 40, 80]),
        "interconnect": st.sampled_from(["infiniband", "roce"]),
        "rdma": st.booleans(),
        "cpuFeatures": _subset(["AVX512F", "AVX512BW", "AMXTILE", "AVX2"]),
        "sameDomain": st.sampled_from(["node", "rack", "block", "zone"]),
        "tiers": _subset(["cloud", "edge", "device"]),
        "zones": _subset(["us-east-1a", "us-east-1c", "cn-east-1-sh", "us-west-2b"]),
        "maxPricePerHour": st.sampled_from([0.5, 5, 40, 200]),
        "billing": st.sampled_from(["on-demand", "spot", "reserved"]),
        "weights": st.fixed_dictionaries(
            {},
            optional={
                k: st.sampled_from([0, 1, 3, 10])
                for k in ("accelerator", "hpc", "locality", "cost", "packing")
            },
        ),
    }
    for key, strategy in optional.items():
        # Each key is rare, so that a fair share of demands still fit somewhere.
        if draw(st.integers(0, 3)) == 0:
            spec[key] = draw(strategy)
    if sum(spec.get("weights", {}).values()) == 0 and "weights" in spec:
        spec["weights"] = {**spec["weights"], "packing": 1}
    if draw(st.integers(0, 3)) == 0:
        spec["sites"] = draw(_subset(["sh-edge-1", "bj-edge-1", "us-east-1"], min_size=1))
        if draw(st.booleans()):
            spec["maxLatencyMs"] = draw(st.sampled_from([0, 5, 30, 300]))
    return spec


@st.composite
def soft_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Preferences only (and limits a 20 USD/h, 40 GiB cloud GPU node meets): the node stays
    feasible, so a score comparison is never vacuous."""
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "tiers": st.permutations(["cloud", "edge", "device"]),
                "sites": _subset(["sh-edge-1", "bj-edge-1", "us-east-1"], min_size=1),
                "minAcceleratorMemoryGiB": st.sampled_from([8, 16, 40]),
                "maxPricePerHour": st.sampled_from([20, 200]),
                "billing": st.sampled_from(["on-demand", "spot", "reserved"]),
                "sameDomain": st.sampled_from(["node", "zone"]),
                "weights": st.fixed_dictionaries(
                    {"accelerator": st.integers(1, 10)},
                    optional={
                        k: st.integers(0, 10) for k in ("hpc", "locality", "cost", "packing")
                    },
                ),
            },
        )
    )


@st.composite
def demands(draw: st.DrawFn) -> PodDemand:
    requests: dict[str, str] = {}
    if draw(st.booleans()):
        requests["cpu"] = draw(st.sampled_from(["100m", "1", "4", "64", "500"]))
    if draw(st.booleans()):
        requests["memory"] = draw(st.sampled_from(["128Mi", "8Gi", "256Gi"]))
    if draw(st.booleans()):
        resource = draw(st.sampled_from(RESOURCES[2:]))
        requests[resource] = draw(st.sampled_from(["1", "2", "4", "8"]))
    job = draw(st.sampled_from([None, "gang"]))
    return parse_pod(pod(requests, draw(specs()), job=job))


@st.composite
def clusters(draw: st.DrawFn) -> list[NodeSnapshot]:
    nodes = []
    for facts in FACTS:
        used = {
            r: draw(st.integers(0, facts.allocatable.amount(r)))
            for r in RESOURCES
            if facts.allocatable.amount(r) and draw(st.booleans())
        }
        nodes.append(NodeSnapshot(facts, NodeUsage(Resources(used), draw(st.integers(0, 3)))))
    return nodes


peer_names = st.lists(st.sampled_from([f.name for f in FACTS]), max_size=3)


@_PROPERTY
@given(demands(), clusters(), peer_names)
def test_scores_stay_in_range(
    demand: PodDemand, nodes: list[NodeSnapshot], peers: list[str]
) -> None:
    decision = evaluate(demand, nodes, CATALOG, LATENCY, peers=peers)
    for result in decision.results:
        assert 0 <= result.score <= MAX_SCORE
        assert 0.0 <= result.total <= 1.0
        if result.feasible:
            assert result.breakdown is not None
            assert all(0.0 <= v <= 1.0 for v in result.breakdown.as_dict().values())
        else:
            assert (result.score, result.breakdown) == (0, None)
            assert result.verdict.reason
    ranked = [decision.result(n) for n in decision.ranking]
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert set(decision.ranking) == set(decision.feasible)


@_PROPERTY
@given(demands(), clusters(), peer_names, st.randoms(use_true_random=False))
def test_node_order_never_changes_the_decision(
    demand: PodDemand, nodes: list[NodeSnapshot], peers: list[str], random: Any
) -> None:
    shuffled = list(nodes)
    random.shuffle(shuffled)
    reversed_peers = list(reversed(peers))
    assert evaluate(demand, nodes, CATALOG, LATENCY, peers=peers) == evaluate(
        demand, shuffled, CATALOG, LATENCY, peers=reversed_peers
    )


def _gpu(catalog: Catalog, type_name: str, count: int, used: int) -> NodeSnapshot:
    accelerator = catalog.get(type_name)
    assert accelerator is not None
    # Same memory label, price, count and usage: only the product differs.
    raw = gpu_node("n", accelerator.aliases[0], count, 40960, 20.0)
    return NodeSnapshot(node_facts(raw, catalog), NodeUsage(Resources({"nvidia.com/gpu": used}), 1))


@_PROPERTY
@given(
    st.permutations(NVIDIA).flatmap(
        lambda order: st.tuples(st.just(order), st.integers(2, len(order)))
    ),
    st.data(),
)
def test_a_more_preferred_type_never_lowers_the_score(
    ordered: tuple[list[str], int], data: st.DataObject
) -> None:
    order, length = ordered
    accepted = order[:length]
    better, worse = sorted(
        data.draw(st.lists(st.integers(0, length - 1), min_size=2, max_size=2, unique=True))
    )
    count = data.draw(st.sampled_from([1, 4, 8]))
    want = data.draw(st.integers(1, count))
    used = data.draw(st.integers(0, count - want))
    spec = {**data.draw(soft_specs()), "acceleratorTypes": accepted}
    demand = parse_pod(pod({"nvidia.com/gpu": str(want)}, spec))
    results = [
        evaluate(demand, [_gpu(CATALOG, accepted[i], count, used)], CATALOG, LATENCY).result("n")
        for i in (better, worse)
    ]
    assert results[0].feasible
    assert results[1].feasible
    assert results[0].score >= results[1].score
    assert results[0].total >= results[1].total - 1e-12
