"""The `suanli` policy visits few nodes but must choose exactly as `evaluate` over all of them."""

from __future__ import annotations

import pytest

from suanli.scoring import (
    Catalog,
    LatencyMap,
    evaluate,
    with_pressure,
)
from suanli.simulate.cluster import SimCluster
from suanli.simulate.engine import SuanliPolicy
from suanli.simulate.generate import generate_nodes, generate_pods
from suanli.simulate.replay import Kinds, arrival_sequence
from suanli.simulate.run import RunSpec, load_scoring_files
from suanli.state import judge


def _catalog(nodes: list) -> tuple[Catalog, LatencyMap]:  # type: ignore[type-arg]
    return load_scoring_files(RunSpec(tuple(nodes), ()))


@pytest.mark.parametrize(
    ("nodes", "pods", "constrained", "seed"),
    [(30, 260, 0.1, 1), (30, 260, 0.5, 2), (45, 380, 0.2, 3)],
)
def test_choices_equal_a_full_evaluate(
    nodes: int, pods: int, constrained: float, seed: int
) -> None:
    _replay_against_evaluate(nodes, pods, constrained, seed)


def test_choices_equal_a_full_evaluate_when_memos_start_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memos full: kind ids start over, and nothing kept under an old id may be read again."""
    monkeypatch.setattr(judge, "_MEMO_LIMIT", 60)
    _replay_against_evaluate(30, 260, 0.2, 4)


def _replay_against_evaluate(nodes: int, pods: int, constrained: float, seed: int) -> None:
    rows = generate_nodes(nodes)
    catalog, latency = _catalog(rows)
    cluster = SimCluster(rows, catalog)
    policy = SuanliPolicy(cluster, catalog, latency)
    kinds = Kinds(catalog)
    sequence = arrival_sequence(
        generate_pods(pods, seed, constrained), cluster.gpu_capacity, seed, 1.3
    )
    placed = dropped = 0
    for pod in sequence:
        kind = kinds.of(pod)
        workload = with_pressure(cluster.state.histogram.workload(), cluster.idle)
        full = evaluate(kind.demand, cluster.snapshots(), catalog, latency, workload=workload)
        choice = policy.choose(kind.demand, kind.request, workload)
        if not full.ranking:
            assert choice is None
            assert policy.place(kind.demand, kind.request, workload) is None
            dropped += 1
            continue
        best = full.result(full.ranking[0])
        assert choice is not None
        assert (choice.node.name, choice.result.allocation) == (best.node, best.allocation)
        assert choice.result.total == best.total
        # What the replay places: the same node and devices, without the full result.
        placement = policy.place(kind.demand, kind.request, workload)
        assert placement is not None
        assert (placement.node.name, placement.allocation) == (best.node, best.allocation)
        cluster.place(choice.node, kind.demand, best.allocation, kind.shape)
        placed += 1
    # The run went through a full cluster, not just the easy start.
    assert placed > 100
    assert dropped > 10
    assert policy.evaluated < placed * nodes / 2


def test_equal_nodes_are_visited_once() -> None:
    rows = generate_nodes(200)
    catalog, latency = _catalog(rows)
    cluster = SimCluster(rows, catalog)
    policy = SuanliPolicy(cluster, catalog, latency)
    kind = Kinds(catalog).of(generate_pods(1, 5, 0)[0])
    assert policy.choose(kind.demand, kind.request) is not None
    # 200 empty nodes in a handful of profiles: one representative each at most.
    assert policy.evaluated <= len(cluster.profiles)
