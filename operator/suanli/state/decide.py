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

import heapq
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from suanli.scoring import (
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    NodeResult,
    Outcome,
    PodDemand,
    ScoringConfig,
    Verdict,
    Workload,
)
from suanli.scoring.combine import ranking_key, round_score, score_node, weighted_total, weights_of
from suanli.scoring.context import Context, build_context
from suanli.scoring.facts import Domain, NodeFacts
from suanli.scoring.filters import check_capacity, check_hard, format_reason_counts
from suanli.scoring.scorers import SCORERS, USAGE_SIGNALS
from suanli.state.cluster import ClusterState, NodeEntry

_FEASIBLE = Verdict("", Outcome.FEASIBLE)
_STATIC = tuple((name, scorer) for name, scorer in SCORERS if name not in USAGE_SIGNALS)
_USAGE = tuple((name, scorer) for name, scorer in SCORERS if name in USAGE_SIGNALS)
# Memo entries kept before a memo starts over (a long-lived extender sees ever new pod kinds).
_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Group:
    score: int
    total: float
    names: list[str]  # in request order; sorted when ranked


@dataclass(frozen=True)
class Choice:
    """One decision: the best feasible nodes with full results, and why the others do not fit."""

    candidates: int  # known nodes judged
    ranked: tuple[NodeResult, ...]  # the best `keep` feasible nodes, best first
    feasible: int  # how many candidates fit
    failed: dict[str, str]  # resolvable: node -> reason category
    unresolvable: dict[str, str]
    unknown: tuple[str, ...] = ()  # names the state does not know
    _groups: tuple[_Group, ...] = field(default=(), repr=False, compare=False)

    @property
    def ranking(self) -> tuple[str, ...]:
        return tuple(r.node for r in self.ranked)

    def result(self, node: str) -> NodeResult | None:
        return next((r for r in self.ranked if r.node == node), None)

    def scores(self) -> dict[str, int]:
        """The 0..10 score of every feasible candidate."""
        return {name: g.score for g in self._groups for name in g.names}

    def feasible_names(self) -> tuple[str, ...]:
        """Every feasible candidate, best first (the reference ranking)."""
        return _ranked_names(self._groups, self.feasible)

    @property
    def unschedulable_reason(self) -> str:
        """Empty when some node fits; else the aggregated filter reasons."""
        if self.feasible:
            return ""
        counts = Counter(self.failed.values())
        counts.update(self.unresolvable.values())
        return format_reason_counts(counts)


def _ranked_names(groups: Sequence[_Group], limit: int) -> tuple[str, ...]:
    """The first `limit` names by (score, total, name); groups of equal totals interleave."""
    ordered = sorted(groups, key=lambda g: (-g.score, -g.total))
    names: list[str] = []
    index = 0
    while index < len(ordered) and len(names) < limit:
        bucket = [ordered[index]]
        index += 1
        while index < len(ordered) and (ordered[index].score, ordered[index].total) == (
            bucket[0].score,
            bucket[0].total,
        ):
            bucket.append(ordered[index])
            index += 1
        for name in heapq.merge(*(sorted(g.names) for g in bucket)):
            names.append(name)
            if len(names) >= limit:
                break
    return tuple(names)


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
        self.evaluated = 0  # groups judged afresh, for benchmarks

    def _check_memos(self, catalog: Catalog, latency: LatencyMap, config: ScoringConfig) -> None:
        valid_for = (catalog, latency, config)
        if not _same(valid_for, self._valid_for) or self._epoch != self.state.epoch:
            self._epoch = self.state.epoch
            self._valid_for = valid_for
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
        peers: Sequence[NodeFacts] | None = None,
    ) -> Choice:
        """Judge the named nodes (all nodes when None) for `demand`; full results for the
        best `keep`. `peers` default to the nodes of the state holding the job's other pods."""
        state = self.state
        with state.lock:
            self._check_memos(catalog, latency, config)
            if peers is None:
                peers = state.peers_of(demand.job, demand.key)
            context = build_context(
                demand, (), catalog, latency, peers=peers, config=config, workload=workload
            )
            groups, unknown = self._group(context, state.names() if names is None else names)
            return self._choose(context, groups, unknown, keep)

    def _group(
        self, context: Context, names: Sequence[str]
    ) -> tuple[dict[Hashable, list[str]], tuple[str, ...]]:
        nodes = self.state.nodes
        # Only a same-node gang with peers tells nodes of one usage state apart by name.
        by_name = context.demand.spec.same_domain is Domain.NODE and bool(context.peer_domains)
        groups: dict[Hashable, list[str]] = {}
        unknown: list[str] = []
        for name in names:
            entry = nodes.get(name)
            if entry is None:
                unknown.append(name)
                continue
            key: Hashable = (entry.state, name) if by_name else entry.state
            members = groups.get(key)
            if members is None:
                groups[key] = [name]
            else:
                members.append(name)
        return groups, tuple(unknown)

    def _choose(
        self,
        context: Context,
        groups: dict[Hashable, list[str]],
        unknown: tuple[str, ...],
        keep: int,
    ) -> Choice:
        nodes = self.state.nodes
        demand = context.demand
        kind = (demand.requests, demand.spec, demand.gpu_milli, bool(context.workload))
        peer_key = tuple(context.peer_domains.items())
        weights = weights_of(demand)
        failed: dict[str, str] = {}
        unresolvable: dict[str, str] = {}
        feasible: list[_Group] = []
        candidates = 0
        for members in groups.values():
            candidates += len(members)
            entry = nodes[members[0]]
            verdict, values = self._judge(context, entry, kind, peer_key)
            if verdict is None:
                total = weighted_total(weights, values)
                feasible.append(_Group(round_score(total), total, members))
                continue
            reason = verdict.category or verdict.reason
            target = unresolvable if verdict.outcome is Outcome.UNRESOLVABLE else failed
            target.update(dict.fromkeys(members, reason))
        count = sum(len(g.names) for g in feasible)
        ranked = tuple(
            score_node(context, nodes[name].snapshot(), Verdict(name, Outcome.FEASIBLE))
            for name in _ranked_names(feasible, keep)
        )
        return Choice(
            candidates,
            tuple(sorted(ranked, key=ranking_key)),
            count,
            failed,
            unresolvable,
            unknown,
            tuple(feasible),
        )

    def _judge(
        self, context: Context, entry: NodeEntry, kind: Hashable, peer_key: Hashable
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
        capacity_key = (demand.requests, demand.gpu_milli, entry.state)
        if capacity_key in self._capacity:
            lack = self._capacity[capacity_key]
        else:
            self.evaluated += 1
            lack = self._capacity[capacity_key] = check_capacity(context, snapshot)
        if lack is not None:
            return lack, {}
        return None, {**hard[1], **self._usage_values(context, entry, kind)}

    def _usage_values(self, context: Context, entry: NodeEntry, kind: Hashable) -> dict[str, float]:
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
