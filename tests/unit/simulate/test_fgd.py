"""FGD's fragmentation measure on hand-made node states, its score, and its choices."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring import Catalog, LatencyMap
from suanli.simulate.arrivals import Kinds
from suanli.simulate.cluster import Request, SimCluster
from suanli.simulate.fgd import FgdPolicy, TypicalPod, fragmentation, score, typical_pods
from suanli.simulate.policies import node_order
from suanli.simulate.trace import NodeRow, PodRow

from .conftest import GIB, share, whole

ANY: frozenset[str] = frozenset()
HALF = TypicalPod(cpu=1000, per_device=500, count=1, types=ANY, weight=0.5)
TWO_WHOLE = TypicalPod(cpu=4000, per_device=1000, count=2, types=ANY, weight=0.3)
CPU_ONLY = TypicalPod(cpu=2000, per_device=0, count=0, types=ANY, weight=0.2)
T4_QUARTER = TypicalPod(cpu=1000, per_device=250, count=1, types=frozenset({"T4"}), weight=1.0)


@dataclass(frozen=True)
class FragCase:
    name: str
    free: tuple[int, ...]
    cpu_free: int
    node_type: str | None
    typical: tuple[TypicalPod, ...]
    expected: float


FRAG_CASES = [
    # free 1000, 1000, 300, 0 (idle 2300):
    #   HALF hosted, 300 < 500 lost -> 300 * 0.5 = 150
    #   TWO_WHOLE hosted (two idle devices), 300 lost -> 300 * 0.3 = 90
    #   CPU_ONLY asks for no GPU: all 2300 lost -> 2300 * 0.2 = 460
    FragCase(
        "mixed shapes", (1000, 1000, 300, 0), 32_000, "V100", (HALF, TWO_WHOLE, CPU_ONLY), 700
    ),
    # one idle device: TWO_WHOLE cannot be hosted, all idle (1000 + 600 = 1600) lost for it
    #   HALF: nothing below 500 -> 0; TWO_WHOLE: 1600 * 0.3 = 480; CPU_ONLY: 1600 * 0.2 = 320
    FragCase("too few devices", (1000, 600), 32_000, "V100", (HALF, TWO_WHOLE, CPU_ONLY), 800),
    # too little cpu for HALF (1000 > 500): all idle lost, 1000 * 0.5
    FragCase("too little cpu", (1000,), 500, "V100", (HALF,), 500),
    # a T4-only shape on a V100 node: every idle milli lost for it
    FragCase("wrong model", (1000, 200), 32_000, "V100", (T4_QUARTER,), 1200),
    # on a T4 node only the 200 below 250 is lost
    FragCase("right model", (1000, 200), 32_000, "T4", (T4_QUARTER,), 200),
    FragCase("no devices", (), 32_000, None, (HALF, CPU_ONLY), 0),
]


@pytest.mark.parametrize("case", FRAG_CASES, ids=lambda c: c.name)
def test_fragmentation_of_hand_made_states(case: FragCase) -> None:
    got = fragmentation(case.free, case.cpu_free, case.node_type, case.typical)
    assert got == pytest.approx(case.expected)


@dataclass(frozen=True)
class ScoreCase:
    name: str
    before: float
    after: float
    expected: int


@pytest.mark.parametrize(
    "case",
    [
        ScoreCase("no change", 500, 500, 50),
        ScoreCase("grows by a device", 0, 1000, 26),  # 100 * sigmoid(-1) = 26.89
        ScoreCase("shrinks by a device", 1000, 0, 73),  # 100 * sigmoid(1) = 73.11
        ScoreCase("grows a little", 0, 30, 49),  # 49.25 truncated, not rounded
    ],
    ids=lambda c: c.name,
)
def test_score_is_the_truncated_sigmoid(case: ScoreCase) -> None:
    assert score(case.before, case.after) == case.expected


def _request(cpu: int, whole: int = 0, milli: int = 0, *types: str) -> Request:
    return Request(cpu, GIB, whole, milli, frozenset(types))


def test_typical_pods_cover_the_trace_by_frequency() -> None:
    requests = (
        [_request(1000, milli=500)] * 60
        + [_request(4000, whole=2)] * 30
        + [_request(2000)] * 6
        + [_request(8000, whole=8)] * 4
    )
    typical = typical_pods(requests)
    # 60 + 30 + 6 = 96 of 100 pods cover 95 %; the 8-GPU shape is left out
    assert [(t.cpu, t.per_device, t.count, t.weight) for t in typical] == [
        (1000, 500, 1, 0.6),
        (4000, 1000, 2, 0.3),
        (2000, 0, 0, 0.06),
    ]


NODES = (
    NodeRow("n-a", 32_000, 128 * GIB, 2, "V100"),  # idle
    NodeRow("n-b", 32_000, 128 * GIB, 2, "V100"),  # 700 used on device 0: 300 free
    NodeRow("n-c", 32_000, 128 * GIB, 2, "V100"),  # 600 used on device 0: 400 free
)


def _policy(scoring_files: tuple[Catalog, LatencyMap], seed: int) -> tuple[FgdPolicy, Kinds]:
    """Typical pods: half 1-GPU pods, half 300 shares."""
    catalog, _ = scoring_files
    cluster = SimCluster(NODES, catalog)
    kinds = Kinds(catalog)
    for node, used in (("n-b", 700), ("n-c", 600)):
        cluster.place(cluster.by_name[node], kinds.of(share("setup", used)).demand, ((0, used),))
    trace = [kinds.of(whole("w", 1)).request, kinds.of(share("s", 300)).request]
    return FgdPolicy(cluster, typical_pods(trace), node_order(cluster, True, seed)), kinds


def _place(policy: FgdPolicy, kinds: Kinds, pod: PodRow) -> tuple[str, tuple[tuple[int, int], ...]]:
    kind = kinds.of(pod)
    placement = policy.place(kind.demand, kind.request, None)  # type: ignore[arg-type]
    assert placement is not None
    return placement.node.name, placement.allocation


@pytest.mark.parametrize("seed", range(6))
def test_a_share_goes_where_fragmentation_falls_most(
    scoring_files: tuple[Catalog, LatencyMap], seed: int
) -> None:
    # F counts, for the 1-GPU shape, free milli on devices not wholly free, and for the 300
    # shape free milli below 300 (each weighted 0.5). A 300 share on:
    #   n-b device 0: F 150 -> 0 (score 53); n-b device 1: F 150 -> 500 (whole pods no longer fit)
    #   n-c device 0: F 200 -> 100 (score 52); an idle device of n-a: F 0 -> 350 (score 41)
    policy, kinds = _policy(scoring_files, seed)
    assert _place(policy, kinds, share("q", 300)) == ("n-b", ((0, 300),))


def test_ties_follow_a_seeded_order_of_nodes(scoring_files: tuple[Catalog, LatencyMap]) -> None:
    # A 1-GPU pod leaves F unchanged on every node (score 50 everywhere): all three tie.
    picks = [_place(*_policy(scoring_files, seed), whole("w", 1))[0] for seed in range(12)]
    again = [_place(*_policy(scoring_files, seed), whole("w", 1))[0] for seed in range(12)]
    assert picks == again
    assert set(picks) == {"n-a", "n-b", "n-c"}


def test_a_pod_nowhere_feasible_is_not_placed(scoring_files: tuple[Catalog, LatencyMap]) -> None:
    policy, kinds = _policy(scoring_files, seed=1)
    kind = kinds.of(whole("big", 3))
    assert policy.place(kind.demand, kind.request, None) is None  # type: ignore[arg-type]
