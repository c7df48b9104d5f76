"""Which node each baseline takes, on a cluster in a known state."""

from __future__ import annotations

import pytest

from suanli.scoring import Catalog, LatencyMap
from suanli.simulate.arrivals import Kinds
from suanli.simulate.cluster import SimCluster
from suanli.simulate.replay import make_policy
from suanli.simulate.trace import NodeRow, PodRow

from .conftest import GIB, cpu_only, share, whole

NODES = (
    NodeRow("a-big", 96_000, 512 * GIB, 8, "V100"),
    NodeRow("b-half", 64_000, 256 * GIB, 4, "V100"),
    NodeRow("c-small", 32_000, 128 * GIB, 2, "T4"),
    NodeRow("d-cpu", 16_000, 64 * GIB, 0, ""),
)
# b-half holds a 600 share on device 0; a-big holds 2 whole devices and much cpu.
SETUP = (("b-half", share("x", 600)), ("a-big", whole("y", 2, cpu=60_000)))


def _cluster(
    scoring_files: tuple[Catalog, LatencyMap], policy: str
) -> tuple[SimCluster, Kinds, object]:
    catalog, latency = scoring_files
    cluster = SimCluster(NODES, catalog)
    kinds = Kinds(catalog)
    by_name = {n.name: n for n in cluster.nodes}
    for name, pod in SETUP:
        kind = kinds.of(pod)
        node = by_name[name]
        allocation = ((0, 600),) if pod.is_share else ((0, 1000), (1, 1000))
        cluster.place(node, kind.demand, allocation)
    return cluster, kinds, make_policy(policy, cluster, catalog, latency, seed=1)


@pytest.mark.parametrize(
    ("policy", "pod", "node", "devices"),
    [
        pytest.param(
            "bestfit", share("s", 400), "a-big", ((2, 400),), id="bestfit: least left, cpu too"
        ),
        pytest.param("bestfit", cpu_only("c", 8000), "d-cpu", (), id="bestfit: CPU pod, CPU node"),
        pytest.param(
            "packing", share("s", 300), "b-half", ((0, 300),), id="packing: partly used device"
        ),
        pytest.param(
            "packing", whole("w", 1), "b-half", ((1, 1000),), id="packing: used, fewest idle left"
        ),
        pytest.param(
            "dotprod", whole("w", 2), "a-big", ((2, 1000), (3, 1000)), id="dotprod: least aligned"
        ),
        pytest.param(
            "k8s-default",
            share("s", 300),
            "b-half",
            ((0, 300),),
            id="k8s: least allocated, first fit",
        ),
        pytest.param(
            "bestfit", share("s", 300, "T4"), "c-small", ((0, 300),), id="models are respected"
        ),
        pytest.param("bestfit", whole("w", 8), None, (), id="nothing fits"),
    ],
)
def test_baseline_choice(
    scoring_files: tuple[Catalog, LatencyMap],
    policy: str,
    pod: PodRow,
    node: str | None,
    devices: tuple[tuple[int, int], ...],
) -> None:
    _, kinds, chooser = _cluster(scoring_files, policy)
    kind = kinds.of(pod)
    placement = chooser.place(kind.demand, kind.request, None)  # type: ignore[attr-defined]
    if node is None:
        assert placement is None
        return
    assert (placement.node.name, placement.allocation) == (node, devices)


def test_random_is_seeded_and_feasible(scoring_files: tuple[Catalog, LatencyMap]) -> None:
    picks = []
    for _ in range(2):
        _, kinds, chooser = _cluster(scoring_files, "random")
        kind = kinds.of(share("s", 500, "V100"))
        found = [chooser.place(kind.demand, kind.request, None) for _ in range(20)]  # type: ignore[attr-defined]
        picks.append([(p.node.name, p.allocation) for p in found])
        assert {name for name, _ in picks[-1]} <= {"a-big", "b-half"}
    assert picks[0] == picks[1]
    assert len(set(picks[0])) > 1


@pytest.mark.parametrize("policy", ["bestfit", "packing", "fgd"])
def test_tie_rules(scoring_files: tuple[Catalog, LatencyMap], policy: str) -> None:
    """A CPU pod on three idle, identical GPU nodes: every policy ties them. By name the first
    name wins on every seed; seeded, the seed decides (and the same seed the same way)."""
    catalog, latency = scoring_files
    nodes = tuple(NodeRow(f"n-{i}", 32_000, 128 * GIB, 2, "V100") for i in range(3))

    def pick(ties: str, seed: int) -> str:
        cluster = SimCluster(nodes, catalog)
        kinds = Kinds(catalog)
        kind = kinds.of(cpu_only("c"))
        chooser = make_policy(
            policy, cluster, catalog, latency, seed, trace=[kind.request], ties=ties
        )
        placement = chooser.place(kind.demand, kind.request, None)  # type: ignore[arg-type]
        assert placement is not None
        return placement.node.name

    assert {pick("name", seed) for seed in range(10)} == {"n-0"}
    seeded = [pick("seeded", seed) for seed in range(10)]
    assert seeded == [pick("seeded", seed) for seed in range(10)]
    assert set(seeded) == {"n-0", "n-1", "n-2"}


def test_an_unknown_tie_rule_is_refused(scoring_files: tuple[Catalog, LatencyMap]) -> None:
    catalog, latency = scoring_files
    with pytest.raises(ValueError, match="ties: 'first' is not one of own, name, seeded"):
        make_policy("bestfit", SimCluster(NODES, catalog), catalog, latency, 1, ties="first")
