"""The `suanli` policy: the production scoring core, evaluated only where the winner can be.

`evaluate` judges every node on its own, and the winner is the feasible node with the highest
total (ties to the smaller name). The replay asks the very same `evaluate` but spares it the
nodes that provably cannot win:

- Accelerator, HPC, locality and cost signals depend on a node's facts only, not on its usage,
  so they are computed once per pod kind and node profile (nodes equal but for their name); a
  profile the pod can never use is skipped whole.
- Packing is at most 0.5 + 0.5 tanh(min(F, c) / scale), where F is the node's expected
  fragmentation before placing and c the pod's device milli: no placement removes more
  fragmentation than it fills. Without a workload, packing is at most 1.
- Nodes of one profile with equal usage score equal: only the first by name can win.

So nodes are visited by profile, best static part first, then by upper bound, in batches given
to `evaluate`, until no bound reaches the best total found. The answer is the node and devices
`evaluate` over the whole cluster would rank first; a test checks exactly that.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from suanli.scoring import (
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    NodeResult,
    NodeSnapshot,
    NodeUsage,
    PodDemand,
    ScoringConfig,
    Shape,
    Workload,
    evaluate,
    fragmentation,
    node_state,
)
from suanli.scoring.scorers import SCORERS
from suanli.scoring.scorers.packing import fragmentation_value
from suanli.simulate.cluster import Request, SimCluster, SimNode
from suanli.simulate.policies import Placement

# Bounds and totals are computed in different orders; a margin far above rounding error and far
# below any real score difference keeps the pruning safe.
_EPSILON = 1e-12
_BATCH = 8


@dataclass(frozen=True, slots=True)
class _Static:
    """What a pod kind scores on a profile apart from packing, as `evaluate` sums it."""

    partial: float  # weighted sum of the other signals, in the core's order
    packing_weight: float
    weight_sum: float

    def bound(self, packing: float) -> float:
        return (self.partial + self.packing_weight * packing) / self.weight_sum


@dataclass(frozen=True, slots=True)
class Choice:
    node: SimNode
    result: NodeResult


class _Best:
    """The best node so far, compared as the core's ranking does: total, then name."""

    def __init__(self) -> None:
        self.total = -math.inf
        self.name = ""
        self.choice: Choice | None = None

    def can_lose_to(self, bound: float, name: str) -> bool:
        """Could a node with this upper bound on its total (and this name) still come first?"""
        if bound < self.total - _EPSILON:
            return False
        # Within rounding of the best: only an equal total is possible, and the name decides.
        return not (bound <= self.total + _EPSILON and name > self.name)

    def offer(self, node: SimNode, result: NodeResult) -> None:
        if result.total > self.total or (result.total == self.total and result.node < self.name):
            self.total, self.name = result.total, result.node
            self.choice = Choice(node, result)


class SuanliPolicy:
    """Chooses as `evaluate` over the whole cluster would, visiting as few nodes as it can."""

    name = "suanli"

    def __init__(
        self,
        cluster: SimCluster,
        catalog: Catalog,
        latency: LatencyMap,
        config: ScoringConfig = DEFAULT_CONFIG,
    ) -> None:
        self.cluster = cluster
        self.catalog = catalog
        self.latency = latency
        self.config = config
        self._static: dict[tuple[object, int, bool], _Static | None] = {}
        self._fragmentation: dict[int, tuple[int, tuple[Shape, ...], float]] = {}
        self.evaluated = 0  # nodes handed to evaluate, for the benchmark's curiosity

    # --- per pod kind and profile, computed once ----------------------------------------------

    def _static_part(self, demand: PodDemand, profile: int, workload: Workload) -> _Static | None:
        # Whether a workload is known changes how untyped pods are scored, nothing more.
        key = ((demand.requests, demand.spec, demand.gpu_milli), profile, bool(workload))
        if key not in self._static:
            self._static[key] = self._compute_static(demand, profile, workload)
        return self._static[key]

    def _compute_static(
        self, demand: PodDemand, profile: int, workload: Workload
    ) -> _Static | None:
        first = self.cluster.profiles[profile][0]
        empty = NodeSnapshot(first.facts, NodeUsage(devices=(0,) * len(first.devices)))
        result = evaluate(
            demand, [empty], self.catalog, self.latency, config=self.config, workload=workload
        )
        result_node = result.results[0]
        if not result_node.feasible or result_node.breakdown is None:
            return None  # not even an empty node of this profile takes the pod
        weights = demand.spec.weights.model_dump()
        values = result_node.breakdown.as_dict()
        partial = 0.0
        for name, _ in SCORERS:
            if name != "packing":
                partial += weights[name] * values[name]
        weight_sum = sum(weights[name] for name, _ in SCORERS)
        return _Static(partial, weights["packing"], weight_sum)

    # --- per node, cached until the node or the workload changes ---------------------------

    def _node_fragmentation(self, node: SimNode, workload: Workload) -> float:
        # Pressure changes with every placement, the shapes only when re-estimated.
        cached = self._fragmentation.get(node.index)
        if cached is not None and cached[0] == node.version and cached[1] is workload.shapes:
            return cached[2]
        value = fragmentation(node_state(node.snapshot), workload)
        self._fragmentation[node.index] = (node.version, workload.shapes, value)
        return value

    def _packing_bound(self, node: SimNode, request: Request, workload: Workload) -> float:
        if not workload:
            return 1.0
        absorbed = min(self._node_fragmentation(node, workload), float(request.gpu_milli))
        return self._packing_at_most(workload, request, node.type_name, absorbed)

    def _packing_at_most(
        self, workload: Workload, request: Request, type_name: str | None, absorbed: float
    ) -> float:
        """Packing when the pod removes `absorbed` milli-devices of fragmentation (at most)."""
        reserved = workload.pressure_on(type_name) * request.gpu_milli if type_name else 0.0
        return fragmentation_value(reserved - absorbed, self.config)

    def _candidates(
        self, members: Sequence[SimNode], request: Request, static: _Static, workload: Workload
    ) -> list[tuple[float, str, SimNode]]:
        """Nodes that fit, one per distinct usage (the first by name), with their bounds."""
        seen: set[tuple[int, int, int, int, tuple[int, ...]]] = set()
        found: list[tuple[float, str, SimNode]] = []
        for node in members:  # members are in name order
            if not node.fits(request):
                continue
            key = node.key()
            if key in seen:
                continue
            seen.add(key)
            bound = static.bound(self._packing_bound(node, request, workload))
            found.append((-bound, node.name, node))
        found.sort(key=lambda item: (item[0], item[1]))
        return found

    # --- the choice ------------------------------------------------------------------------

    def _profiles(
        self, demand: PodDemand, workload: Workload
    ) -> Iterator[tuple[float, int, _Static]]:
        """Profiles the pod can use, the best static part first."""
        ranked = []
        for profile in range(len(self.cluster.profiles)):
            static = self._static_part(demand, profile, workload)
            if static is not None:
                ranked.append((static.partial / static.weight_sum, profile, static))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        yield from ranked

    def _visit(
        self,
        demand: PodDemand,
        candidates: list[tuple[float, str, SimNode]],
        workload: Workload,
        best: _Best,
    ) -> None:
        position = 0
        while position < len(candidates):
            batch: list[SimNode] = []
            while position < len(candidates) and len(batch) < _BATCH:
                negative_bound, name, node = candidates[position]
                position += 1
                if best.can_lose_to(-negative_bound, name):
                    batch.append(node)
                elif -negative_bound < best.total - _EPSILON:
                    position = len(candidates)  # sorted by bound: nothing further can win
            if not batch:
                return
            self.evaluated += len(batch)
            decision = evaluate(
                demand,
                [n.snapshot for n in batch],
                self.catalog,
                self.latency,
                config=self.config,
                workload=workload,
            )
            if decision.ranking:
                winner = decision.result(decision.ranking[0])
                best.offer(next(n for n in batch if n.name == winner.node), winner)

    def choose(
        self, demand: PodDemand, request: Request, workload: Workload = NO_WORKLOAD
    ) -> Choice | None:
        """The node (and its result, devices included) `evaluate` would rank first."""
        best = _Best()
        # Profiles come best static part first; the packing bound differs by type (pressure),
        # so a profile is skipped, not the rest, when its bound cannot reach the best.
        for _, profile, static in self._profiles(demand, workload):
            members = self.cluster.profiles[profile]
            top = self._top_packing(workload, request, members[0].type_name)
            if static.bound(top) < best.total - _EPSILON:
                continue
            candidates = self._candidates(members, request, static, workload)
            self._visit(demand, candidates, workload, best)
        return best.choice

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        choice = self.choose(demand, request, workload)
        return None if choice is None else Placement(choice.node, choice.result.allocation)

    def _top_packing(self, workload: Workload, request: Request, type_name: str | None) -> float:
        if not workload:
            return 1.0
        return self._packing_at_most(workload, request, type_name, float(request.gpu_milli))
