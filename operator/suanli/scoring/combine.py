"""One decision for one pod: verdict, score and breakdown per node, and a ranking.

Each node is judged on its own facts (plus the job's peers), never relative to the other
candidates, so the input order and the presence of other nodes cannot change a node's result.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from suanli.scoring.catalog import Catalog
from suanli.scoring.config import DEFAULT_CONFIG, ScoringConfig
from suanli.scoring.context import Context, Peer, build_context
from suanli.scoring.datapolicy import BASELINE_POLICY, DataPolicy
from suanli.scoring.demand import PodDemand
from suanli.scoring.devices import Allocation
from suanli.scoring.filters import check_node
from suanli.scoring.latency import LatencyMap
from suanli.scoring.scorers import SCORERS
from suanli.scoring.shapes import NO_WORKLOAD, Workload
from suanli.scoring.snapshot import NodeSnapshot
from suanli.scoring.verdict import Verdict, aggregate_reasons

MAX_SCORE = 10
# The total is kept at this many steps of [0, 1]: nodes within one step of each other are equal
# and go by `tie_rank`, as kube-scheduler picks at random among equal scores (docs/scoring.md).
TOTAL_STEPS = 100


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Each signal's value in [0, 1] before weighting."""

    accelerator: float
    hpc: float
    locality: float
    cost: float
    packing: float

    def as_dict(self) -> dict[str, float]:
        return {
            "accelerator": self.accelerator,
            "hpc": self.hpc,
            "locality": self.locality,
            "cost": self.cost,
            "packing": self.packing,
        }


@dataclass(frozen=True, slots=True)
class NodeResult:
    verdict: Verdict
    score: int = 0  # 0..10, what the extender returns; 0 for infeasible nodes
    total: float = 0.0  # the weighted mean in [0, 1] before rounding
    breakdown: Breakdown | None = None  # None for infeasible nodes
    explanation: str = ""
    # The devices the pod would get on this node (feasible nodes, pods asking for devices).
    allocation: Allocation = ()

    @property
    def node(self) -> str:
        return self.verdict.node

    @property
    def feasible(self) -> bool:
        return self.verdict.feasible


@dataclass(frozen=True)
class Decision:
    results: tuple[NodeResult, ...]  # sorted by node name
    ranking: tuple[str, ...]  # feasible nodes, best first
    _by_node: Mapping[str, NodeResult] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_node", MappingProxyType({r.node: r for r in self.results}))

    def result(self, node: str) -> NodeResult:
        return self._by_node[node]

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return tuple(r.verdict for r in self.results)

    @property
    def scores(self) -> dict[str, int]:
        return {r.node: r.score for r in self.results}

    @property
    def breakdowns(self) -> dict[str, dict[str, float]]:
        return {r.node: r.breakdown.as_dict() for r in self.results if r.breakdown is not None}

    @property
    def feasible(self) -> tuple[str, ...]:
        return tuple(r.node for r in self.results if r.feasible)

    @property
    def unschedulable_reason(self) -> str:
        """Empty when some node fits; else the aggregated filter reasons."""
        return "" if self.ranking else aggregate_reasons(self.verdicts)


def weights_of(demand: PodDemand) -> dict[str, float]:
    return demand.spec.weights.model_dump()


def round_score(total: float) -> int:
    """Round half up once, at the end: 0.85 -> 9, never banker's rounding."""
    return max(0, min(MAX_SCORE, math.floor(total * MAX_SCORE + 0.5)))


def weight_pairs(weights: Mapping[str, float]) -> tuple[tuple[tuple[float, str], ...], float]:
    """The weights in the order of SCORERS, and their sum: what `total_of` needs."""
    pairs = tuple((weights[name], name) for name, _ in SCORERS)
    return pairs, sum(w for w, _ in pairs)


def total_of(
    pairs: tuple[tuple[float, str], ...], weight_sum: float, values: Mapping[str, float]
) -> float:
    """The weighted mean in [0, 1], summed in the order of SCORERS, at the resolution of
    `resolved`: one definition, so the fast path and the reference give the very same float."""
    total = 0.0
    for weight, name in pairs:
        total += weight * values[name]
    return resolved(total / weight_sum)


def resolved(mean: float) -> float:
    """A weighted mean clamped to [0, 1] and cut down to a multiple of 1 / TOTAL_STEPS (never
    decreasing in the mean, so an upper bound of a mean bounds its total too)."""
    # Comparisons rather than min() and max() calls (read for every total the decider works
    # out); the same value for every float, NaN included (max(0.0, nan) is 0.0).
    clamped = 1.0 if mean > 1.0 else (mean if mean > 0.0 else 0.0)
    return math.floor(clamped * TOTAL_STEPS + 1e-9) / TOTAL_STEPS


@functools.lru_cache(maxsize=1 << 16)  # a fleet's names, asked for on every decision
def tie_rank(name: str) -> int:
    """Where a node goes among nodes of equal total: a fixed hash of its name (CRC-32), the same
    in every process and release, so equal nodes of different kinds take turns in a spread,
    repeatable order instead of the alphabet's."""
    return zlib.crc32(name.encode())


def weighted_total(weights: Mapping[str, float], values: Mapping[str, float]) -> float:
    return total_of(*weight_pairs(weights), values)


def score_node(context: Context, node: NodeSnapshot, verdict: Verdict) -> NodeResult:
    """The full result of a feasible node: score, breakdown, explanation and devices."""
    values: dict[str, float] = {}
    notes: list[str] = []
    for name, scorer in SCORERS:
        signal = scorer(context, node)
        values[name] = signal.value
        notes.append(f"{name} {signal.value:.2f}: {signal.why}")
    total = weighted_total(weights_of(context.demand), values)
    plan = context.plan(node)
    return NodeResult(
        verdict,
        round_score(total),
        total,
        Breakdown(**values),
        "; ".join(notes),
        plan.allocation if plan is not None else (),
    )


def evaluate(
    demand: PodDemand,
    nodes: Sequence[NodeSnapshot],
    catalog: Catalog,
    latency: LatencyMap,
    *,
    peers: Iterable[Peer] = (),
    config: ScoringConfig = DEFAULT_CONFIG,
    workload: Workload = NO_WORKLOAD,
    data_policy: DataPolicy = BASELINE_POLICY,
) -> Decision:
    """Filter and score every node for one pod.

    `peers` are the nodes already holding pods of the same job: names (looked up among
    `nodes`) or NodeFacts (for peer nodes that are not candidates; `Snapshot.peers_of`).
    `workload` is the typical request shapes to keep room for (packing minimises the expected
    fragmentation it causes); without one, packing is most-allocated. `data_policy` says where
    the data a demand declares may run (the baseline one keeps sensitive data off every node).
    """
    ordered = sorted(nodes, key=lambda n: n.name)
    names = [n.name for n in ordered]
    if len(set(names)) != len(names):
        raise ValueError("evaluate: two nodes with the same name")
    context = build_context(
        demand,
        ordered,
        catalog,
        latency,
        peers=peers,
        config=config,
        workload=workload,
        data_policy=data_policy,
    )
    results: list[NodeResult] = []
    for node in ordered:
        verdict = check_node(context, node)
        results.append(
            score_node(context, node, verdict) if verdict.feasible else NodeResult(verdict)
        )
    feasible = [r for r in results if r.feasible]
    feasible.sort(key=ranking_key)
    return Decision(tuple(results), tuple(r.node for r in feasible))


def ranking_key(result: NodeResult) -> tuple[int, float, int, str]:
    """Integer score first (what kube-scheduler sees), then the total, then `tie_rank` (and the
    name, should two names hash alike)."""
    return (-result.score, -result.total, tie_rank(result.node), result.node)


def best_nodes(decision: Decision, k: int = 1) -> tuple[str, ...]:
    """The k best feasible nodes. kube-scheduler picks at random among equal totals; returning
    only these from /filter makes its choice the one the ranking made."""
    if k < 1:
        raise ValueError("best_nodes: k must be at least 1")
    return decision.ranking[:k]
