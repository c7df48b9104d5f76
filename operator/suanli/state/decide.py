"""Decisions over the cluster state whose cost follows the distinct node states, not the nodes.

`evaluate` (the reference) judges every candidate on its own. The answer of a node depends on:
its facts, which are those of its class (and, for a gang asking for the same domain, the
node's domain value); its usage, summed up as a usage state id; the pod; the job's peers; and
the workload. So candidates are grouped by usage state, and each group is judged once:

- hard requirements and the facts-only signals once per pod kind and class (kept across
  decisions: a stream of identical pods reuses them);
- capacity and packing once per pod kind and usage state (also kept: between two pods only the
  node that took the last one has a new state).

Full results (breakdown, explanation, devices) are built, with the reference functions, only
for the nodes that are returned ranked: the chosen ones and their runners-up. A property test
checks verdicts, ranking and results against `evaluate` over every node.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from suanli.scoring import (
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    Outcome,
    PodDemand,
    ScoringConfig,
    Verdict,
    Workload,
)
from suanli.scoring.combine import (
    ranking_key,
    round_score,
    score_node,
    total_of,
    weight_pairs,
    weights_of,
)
from suanli.scoring.context import Context, build_context
from suanli.scoring.facts import Domain, NodeFacts
from suanli.scoring.filters import check_capacity, check_hard
from suanli.scoring.scorers import SCORERS, USAGE_SIGNALS
from suanli.state.choice import Candidates, Choice, Everyone, Listed, ranked_names
from suanli.state.cluster import ClusterState, NodeEntry

_STATIC = tuple((name, scorer) for name, scorer in SCORERS if name not in USAGE_SIGNALS)
_USAGE = tuple((name, scorer) for name, scorer in SCORERS if name in USAGE_SIGNALS)
# Memo entries kept before a memo starts over (a long-lived extender sees ever new pod kinds).
_MEMO_LIMIT = 100_000


class Decider:
    """Decisions over one `ClusterState`, with memos that outlive a decision."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self._valid_for: tuple[object, ...] = ()
        self._epoch = -1
        self._hard: dict[Hashable, tuple[Verdict | None, dict[str, float]]] = {}
        self._capacity: dict[Hashable, Verdict | None] = {}
        self._packing: dict[Hashable, dict[str, float]] = {}
        self._packing_for: tuple[object, ...] = ()
        self._kinds: dict[Hashable, int] = {}
        self.evaluated = 0  # groups judged afresh, for benchmarks

    def _check_memos(self, catalog: Catalog, latency: LatencyMap, config: ScoringConfig) -> None:
        valid_for = (catalog, latency, config)
        if not _same(valid_for, self._valid_for) or self._epoch != self.state.epoch:
            self._epoch = self.state.epoch
            self._valid_for = valid_for
            self._hard.clear()
            self._capacity.clear()
            self._packing.clear()
            self._kinds.clear()
        if len(self._kinds) > _MEMO_LIMIT:
            self._kinds.clear()
            self._hard.clear()
            self._capacity.clear()
            self._packing.clear()
        for memo in (self._hard, self._capacity, self._packing):
            if len(memo) > _MEMO_LIMIT:
                memo.clear()

    def decide(
        self,
        demand: PodDemand,
        names: Sequence[str] | None = None,
        *,
        catalog: Catalog,
        latency: LatencyMap,
        config: ScoringConfig = DEFAULT_CONFIG,
        workload: Workload = NO_WORKLOAD,
        keep: int = 1,
        detail: int | None = None,
        peers: Sequence[NodeFacts] | None = None,
    ) -> Choice:
        """Judge the named nodes (all nodes when None) for `demand`: the best `keep` ranked,
        full results (breakdown, explanation, devices) for the first `detail` of them (all by
        default). `peers` default to the nodes of the state holding the job's other pods."""
        state = self.state
        with state.lock:
            self._check_memos(catalog, latency, config)
            if peers is None:
                peers = state.peers_of(demand.job, demand.key)
            context = build_context(
                demand, (), catalog, latency, peers=peers, config=config, workload=workload
            )
            judged, unknown = self._candidates(context, names)
            return self._choose(
                context, judged, unknown, keep=keep, detail=keep if detail is None else detail
            )

    def _candidates(
        self, context: Context, names: Sequence[str] | None
    ) -> tuple[Candidates, tuple[str, ...]]:
        """The known candidates by group (usage state), and the unknown names."""
        # Only a same-node gang with peers tells nodes of one usage state apart by name.
        by_name = context.demand.spec.same_domain is Domain.NODE and bool(context.peer_domains)
        if names is None:
            if not by_name:
                return Everyone(self.state.members), ()
            names = self.state.names()
        state_of = self.state.state_of
        states: list[Hashable] = list(map(state_of.get, names))
        unknown: tuple[str, ...] = ()
        if None in states:
            unknown = tuple(n for n, s in zip(names, states, strict=True) if s is None)
            known = [(n, s) for n, s in zip(names, states, strict=True) if s is not None]
            names, states = [n for n, _ in known], [s for _, s in known]
        if by_name:
            states = list(zip(states, names, strict=True))
        return Listed(names, states), unknown

    def _choose(
        self,
        context: Context,
        judged: Candidates,
        unknown: tuple[str, ...],
        *,
        keep: int,
        detail: int,
    ) -> Choice:
        nodes = self.state.nodes
        demand = context.demand
        kind = self._kind_id(
            (demand.requests, demand.spec, demand.gpu_milli, bool(context.workload))
        )
        capacity_kind = self._kind_id((demand.requests, demand.gpu_milli))
        peer_key = tuple(context.peer_domains.items())
        pairs, weight_sum = weight_pairs(weights_of(demand))
        reasons: dict[Hashable, tuple[Outcome, str]] = {}
        totals: dict[Hashable, tuple[int, float]] = {}
        for group, name in judged.representatives().items():
            verdict, values = self._judge(context, nodes[name], kind, capacity_kind, peer_key)
            if verdict is None:
                total = total_of(pairs, weight_sum, values)
                totals[group] = (round_score(total), total)
            else:
                reasons[group] = (verdict.outcome, verdict.category or verdict.reason)
        sizes = judged.sizes
        best = ranked_names(judged, totals, keep)
        ranked = tuple(
            score_node(context, nodes[name].snapshot(), Verdict(name, Outcome.FEASIBLE))
            for name, _ in best[:detail]
        )
        top = tuple((name, totals[group][0]) for name, group in best)
        return Choice(
            judged.count,
            tuple(sorted(ranked, key=ranking_key)),
            sum(sizes[g] for g in totals),
            unknown,
            top,
            judged,
            totals,
            reasons,
        )

    def _kind_id(self, kind: Hashable) -> int:
        """A small int per pod kind, so memo keys hash and compare cheaply."""
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = len(self._kinds)
        return found

    def _judge(
        self,
        context: Context,
        entry: NodeEntry,
        kind: int,
        capacity_kind: int,
        peer_key: Hashable,
    ) -> tuple[Verdict | None, dict[str, float]]:
        """The verdict (None: feasible) and the signal values of a node's group."""
        demand = context.demand
        same = demand.spec.same_domain
        domain = entry.facts.domain(same) if same is not None and peer_key else None
        hard_key = (kind, peer_key, entry.class_id, domain)
        hard = self._hard.get(hard_key)
        snapshot = entry.snapshot()
        if hard is None:
            failure = check_hard(context, snapshot)
            static = {} if failure else {n: s(context, snapshot).value for n, s in _STATIC}
            hard = self._hard[hard_key] = (failure, static)
        if hard[0] is not None:
            return hard[0], {}
        capacity_key = (capacity_kind, entry.state)
        if capacity_key in self._capacity:
            lack = self._capacity[capacity_key]
        else:
            self.evaluated += 1
            lack = self._capacity[capacity_key] = check_capacity(context, snapshot)
        if lack is not None:
            return lack, {}
        return None, {**hard[1], **self._usage_values(context, entry, kind)}

    def _usage_values(self, context: Context, entry: NodeEntry, kind: int) -> dict[str, float]:
        workload = context.workload
        # Packing reads the workload's shapes and weights, and its pressure on this node's type.
        shapes = (workload.shapes, workload.weights)
        if not _same(shapes, self._packing_for):
            self._packing_for = shapes
            self._packing.clear()
        accelerator = entry.facts.accelerator
        type_name = accelerator.type.name if accelerator and accelerator.type else None
        key = (kind, entry.state, workload.pressure_on(type_name))
        values = self._packing.get(key)
        if values is None:
            snapshot = entry.snapshot()
            values = {n: s(context, snapshot).value for n, s in _USAGE}
            self._packing[key] = values
        return values


def _same(these: tuple[object, ...], those: tuple[object, ...]) -> bool:
    """The very same objects (identity, not equality: cheap, and safe for memo validity)."""
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))
