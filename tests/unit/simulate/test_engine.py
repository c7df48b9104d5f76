"""The `suanli` policy visits few nodes but must choose exactly as `evaluate` over all of them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scoring import (
    Catalog,
    LatencyMap,
    evaluate,
    with_pressure,
)
from suanli.scoring.snapshot import PlacedPod
from suanli.simulate.arrivals import Kinds, arrival_sequence
from suanli.simulate.cluster import SimCluster
from suanli.simulate.engine import SuanliPolicy
from suanli.simulate.generate import generate_nodes, generate_pods
from suanli.simulate.run import RunSpec, load_scoring_files
from suanli.simulate.trace import NodeRow, PodRow
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
    placed, dropped, evaluated = _replay_checked(nodes, pods, constrained, seed)
    # The run went through a full cluster, not just the easy start.
    assert placed > 100
    assert dropped > 10
    assert evaluated < placed * nodes / 2


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(6, 40), st.integers(30, 160), st.sampled_from([0.0, 0.2, 0.6]), st.integers())
def test_random_replays_equal_a_full_evaluate(
    nodes: int, pods: int, constrained: float, seed: int
) -> None:
    """Random fleets and mixes: many equal nodes, CPU pods that leave most of them tied, and
    what the decider remembers between pods (the nodes by tie rank it skipped, the states it
    judged) never changes a placement."""
    _replay_checked(nodes, pods, constrained, seed)


def _replay_checked(nodes: int, pods: int, constrained: float, seed: int) -> tuple[int, int, int]:
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
    return placed, dropped, policy.evaluated


def test_equal_nodes_are_visited_once() -> None:
    rows = generate_nodes(200)
    catalog, latency = _catalog(rows)
    cluster = SimCluster(rows, catalog)
    policy = SuanliPolicy(cluster, catalog, latency)
    kind = Kinds(catalog).of(generate_pods(1, 5, 0)[0])
    assert policy.choose(kind.demand, kind.request) is not None
    # 200 empty nodes in a handful of profiles: one representative each at most.
    assert policy.evaluated <= len(cluster.profiles)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(4, 16), st.integers(40, 160), st.integers(), st.data())
def test_decisions_with_pods_leaving_equal_a_full_evaluate(
    nodes: int, pods: int, seed: int, data: st.DataObject
) -> None:
    """Pods leave too (as on a live cluster), between decisions of a few recurring kinds:
    what the decider remembers between them (states judged, nodes by tie rank skipped) never
    changes a placement."""
    rows = generate_nodes(nodes)
    catalog, latency = _catalog(rows)
    cluster = SimCluster(rows, catalog)
    policy = SuanliPolicy(cluster, catalog, latency)
    kinds = Kinds(catalog)
    held: list[str] = []
    # A few kinds of pods, again and again: what is remembered per kind is read again.
    mix = generate_pods(6, seed, 0.1)
    for step in range(pods):
        pod = dataclasses.replace(mix[data.draw(st.integers(0, len(mix) - 1))], name=f"p{step}")
        if held and data.draw(st.integers(0, 3)) == 0:
            gone = held.pop(data.draw(st.integers(0, len(held) - 1)))
            cluster.state.set_pod(gone, None)
        kind = kinds.of(pod)
        workload = with_pressure(cluster.state.histogram.workload(), cluster.idle)
        full = evaluate(kind.demand, cluster.snapshots(), catalog, latency, workload=workload)
        placement = policy.place(kind.demand, kind.request, workload)
        if not full.ranking:
            assert placement is None
            continue
        best = full.result(full.ranking[0])
        assert placement is not None
        assert (placement.node.name, placement.allocation) == (best.node, best.allocation)
        # Into the state only: the baselines' numbers do not follow pods that leave.
        key = f"test/{pod.name}"
        demand = kind.demand
        landed = PlacedPod(key, best.node, None, demand.requests, demand.gpu_milli, best.allocation)
        cluster.state.set_pod(key, landed, kind.shape)
        held.append(key)


def test_a_node_filled_then_freed_is_taken_again_as_evaluate_takes_it() -> None:
    """Nodes fill one after the other by tie rank; a pod leaving the first one filled gives it
    back its turn."""

    # CPU pods on GPU nodes tie everywhere they fit: the first node by rank takes them until
    # it is full, then it is skipped.
    rows = [NodeRow(f"gpu-{i:02d}", 8000, 32768, 8, "A100") for i in range(12)]
    rows += [NodeRow(f"cpu-{i:02d}", 8000, 32768, 0, "") for i in range(4)]
    catalog, latency = _catalog(rows)
    cluster = SimCluster(rows, catalog)
    policy = SuanliPolicy(cluster, catalog, latency)
    kinds = Kinds(catalog)
    held: dict[str, list[str]] = {}
    chosen: list[str] = []
    for step in range(40):
        if step == 30:
            # Free one pod of the GPU node filled first.
            node = chosen[16]  # the CPU nodes fill first (4 pods each)
            assert node.startswith("gpu-")
            assert len(held[node]) == 4
            cluster.state.set_pod(held[node].pop(), None)
        kind = kinds.of(PodRow(f"p{step}", 2000, 4096, 0, 0))
        workload = with_pressure(cluster.state.histogram.workload(), cluster.idle)
        full = evaluate(kind.demand, cluster.snapshots(), catalog, latency, workload=workload)
        placement = policy.place(kind.demand, kind.request, workload)
        assert full.ranking
        assert placement is not None
        assert placement.node.name == full.ranking[0], step
        key = f"test/p{step}"
        demand = kind.demand
        landed = PlacedPod(key, placement.node.name, None, demand.requests, demand.gpu_milli, None)
        cluster.state.set_pod(key, landed, kind.shape)
        held.setdefault(placement.node.name, []).append(key)
        chosen.append(placement.node.name)
    assert chosen[30] == chosen[16]  # the freed room is taken again
