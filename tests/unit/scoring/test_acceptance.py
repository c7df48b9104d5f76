"""The behaviours users rely on, on the demo fleet from operator/suanli/data/fleet.yaml."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from suanli.scoring import (
    Catalog,
    Decision,
    LatencyMap,
    Outcome,
    Snapshot,
    best_nodes,
    evaluate,
    parse_pod,
)

from .helpers import pod


def _decide(
    snapshot: Snapshot,
    catalog: Catalog,
    latency: LatencyMap,
    requests: dict[str, str],
    *,
    name: str = "p",
    job: str | None = None,
    **spec: Any,
) -> Decision:
    demand = parse_pod(pod(requests, spec, name=name, job=job))
    return evaluate(demand, snapshot.nodes, catalog, latency, peers=snapshot.peers_of(demand))


def _pool(name: str) -> str:
    return name.rsplit("-", 1)[0]


def _fill(fleet: list[dict[str, Any]], pool: str, requests: dict[str, str]) -> list[dict[str, Any]]:
    """One pod per node of a pool, bound to it."""
    return [
        pod(requests, name=f"fill-{n['metadata']['name']}", node_name=n["metadata"]["name"])
        for n in fleet
        if _pool(n["metadata"]["name"]) == pool
    ]


def test_preferred_type_first_while_free_then_the_next(
    fleet: list[dict[str, Any]], catalog: Catalog, latency: LatencyMap
) -> None:
    request = {"nvidia.com/gpu": "8", "cpu": "32", "memory": "256Gi"}
    free = Snapshot.from_objects(fleet, [], catalog)
    decision = _decide(free, catalog, latency, request, acceleratorTypes=["H100", "A100"])
    pools = [_pool(n) for n in decision.ranking]
    assert pools == ["h100-use1"] * 4 + ["a100-use1"] * 6
    assert decision.scores[decision.ranking[0]] > decision.scores["a100-use1-0"]

    # Partly used H100s still come first for what still fits on them...
    half = Snapshot.from_objects(fleet, _fill(fleet, "h100-use1", {"nvidia.com/gpu": "4"}), catalog)
    four = {"nvidia.com/gpu": "4"}
    decision = _decide(half, catalog, latency, four, acceleratorTypes=["H100", "A100"])
    assert [_pool(n) for n in decision.ranking[:4]] == ["h100-use1"] * 4

    # ...and once every H100 is taken the A100s do, the H100s waiting as resolvable.
    full = Snapshot.from_objects(fleet, _fill(fleet, "h100-use1", {"nvidia.com/gpu": "8"}), catalog)
    decision = _decide(full, catalog, latency, request, acceleratorTypes=["H100", "A100"])
    assert {_pool(n) for n in decision.ranking} == {"a100-use1"}
    h100 = decision.result("h100-use1-0").verdict
    assert h100.outcome is Outcome.RESOLVABLE
    assert h100.reason == "insufficient nvidia.com/gpu (free 0, want 8)"


def test_t4_pod_never_gets_an_h100(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    decision = _decide(
        fleet_snapshot, catalog, latency, {"nvidia.com/gpu": "1"}, acceleratorTypes=["T4"]
    )
    assert {_pool(n) for n in decision.ranking} == {"t4-usw2"}
    verdict = decision.result("h100-use1-0").verdict
    assert verdict.outcome is Outcome.UNRESOLVABLE
    assert verdict.reason == "accelerator type H100 not in [T4]"


def test_infiniband_gang_stays_in_its_peers_rack(
    fleet: list[dict[str, Any]], catalog: Catalog, latency: LatencyMap
) -> None:
    # hpc-ib-0 is on rack-1 (the fleet spreads nodes round-robin over rack-1, rack-2).
    peer = pod({"cpu": "16"}, name="mpi-0", job="mpi", node_name="hpc-ib-0")
    snapshot = Snapshot.from_objects(fleet, [peer], catalog)
    decision = _decide(
        snapshot,
        catalog,
        latency,
        {"cpu": "16"},
        name="mpi-1",
        job="mpi",
        interconnect="infiniband",
        rdma=True,
        sameDomain="rack",
    )
    assert set(decision.ranking) == {"hpc-ib-0", "hpc-ib-2", "hpc-ib-4", "hpc-ib-6"}
    # Joining the peer's node packs best.
    assert decision.ranking[0] == "hpc-ib-0"
    other_rack = decision.result("hpc-ib-1").verdict
    assert other_rack.reason == "rack rack-2; job peers are in rack [rack-1]"
    assert decision.result("cpu-use1-0").verdict.reason == "interconnect none, want infiniband"


def test_edge_job_stays_near_its_data(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    # The demo's edge nodes are tainted as KubeEdge's are; the operator gives edge jobs the
    # toleration.
    raw = pod({"cpu": "1", "memory": "1Gi"}, {"sites": ["sh-edge-1"], "maxLatencyMs": 20})
    untolerating = evaluate(parse_pod(raw), fleet_snapshot.nodes, catalog, latency)
    assert untolerating.ranking == ()
    assert untolerating.result("edge-sh-0").verdict.reason == (
        "taint node-role.kubernetes.io/edge:NoSchedule not tolerated"
    )
    raw["spec"]["tolerations"] = [
        {"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}
    ]
    decision = evaluate(parse_pod(raw), fleet_snapshot.nodes, catalog, latency)
    assert decision.ranking
    assert {_pool(n) for n in decision.ranking} == {"edge-sh", "device-sh"}
    assert decision.result("edge-bj-0").verdict.reason == "latency to sh-edge-1 is 28 ms > 20 ms"
    assert decision.result("h100-use1-0").verdict.reason == (
        "latency to sh-edge-1 is 220 ms > 20 ms"
    )
    # The CPU-only edge job leaves the edge GPUs to GPU work.
    assert _pool(decision.ranking[0]) == "device-sh"


def test_ascend_job_only_fits_ascend_nodes(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    specs: list[dict[str, Any]] = [{}, {"acceleratorTypes": ["Ascend910B"]}]
    for spec in specs:
        decision = _decide(
            fleet_snapshot, catalog, latency, {"huawei.com/Ascend910": "8", "cpu": "64"}, **spec
        )
        assert {_pool(n) for n in decision.ranking} == {"ascend-cnn1"}
        assert len(decision.ranking) == 4


def test_cpu_job_ranks_cpu_nodes_above_gpu_nodes(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    decision = _decide(fleet_snapshot, catalog, latency, {"cpu": "4", "memory": "8Gi"})
    has_gpu = {n.name: n.facts.accelerator is not None for n in fleet_snapshot.nodes}
    flags = [has_gpu[n] for n in decision.ranking]
    first_gpu = flags.index(True)
    assert not any(flags[:first_gpu])
    assert all(flags[first_gpu:])
    # General-purpose CPU nodes before the HPC rack, which is kept for HPC work.
    assert _pool(decision.ranking[0]) == "cpu-use1"


def test_over_the_price_ceiling_is_unresolvable(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    decision = _decide(
        fleet_snapshot,
        catalog,
        latency,
        {"nvidia.com/gpu": "8"},
        acceleratorTypes=["H100"],
        maxPricePerHour=40,
    )
    assert decision.ranking == ()
    verdict = decision.result("h100-use1-0").verdict
    assert verdict.outcome is Outcome.UNRESOLVABLE
    assert verdict.reason == "price 98.32 USD/h (on-demand) for 8 of 8 nvidia.com/gpu > 40 USD/h"
    assert "4 nodes: price above 40 USD/h" in decision.unschedulable_reason
    assert decision.unschedulable_reason.startswith("18 nodes: accelerator type not in [H100]")


def test_best_nodes_narrows_deterministically(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    decision = _decide(
        fleet_snapshot, catalog, latency, {"nvidia.com/gpu": "8"}, acceleratorTypes=["H100", "A100"]
    )
    # Four identical H100 nodes tie on every signal: the fixed hash of the name decides.
    h100 = [f"h100-use1-{i}" for i in range(4)]
    by_rank = tuple(sorted(h100, key=lambda name: (zlib.crc32(name.encode()), name)))
    assert by_rank[:3] == ("h100-use1-2", "h100-use1-3", "h100-use1-1")
    assert best_nodes(decision, 1) == by_rank[:1]
    assert best_nodes(decision, 3) == by_rank[:3]
    assert best_nodes(decision, 100) == decision.ranking
    with pytest.raises(ValueError, match="k must be at least 1"):
        best_nodes(decision, 0)


def test_decision_shape(fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap) -> None:
    decision = _decide(fleet_snapshot, catalog, latency, {"nvidia.com/gpu": "1"})
    assert len(decision.results) == len(fleet_snapshot.nodes)
    assert [r.node for r in decision.results] == sorted(r.node for r in decision.results)
    top = decision.result(decision.ranking[0])
    assert top.breakdown is not None
    assert set(decision.breakdowns[top.node]) == {
        "accelerator",
        "hpc",
        "locality",
        "cost",
        "packing",
    }
    assert "accelerator" in top.explanation
    assert decision.unschedulable_reason == ""
    assert set(decision.feasible) == set(decision.ranking)
    assert all(decision.scores[n] == 0 for n in decision.scores if n not in decision.ranking)


def test_duplicate_candidates_are_rejected(
    fleet_snapshot: Snapshot, catalog: Catalog, latency: LatencyMap
) -> None:
    first = fleet_snapshot.nodes[0]
    with pytest.raises(ValueError, match="same name"):
        evaluate(parse_pod(pod()), [first, first], catalog, latency)
