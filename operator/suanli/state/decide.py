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

from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Any, cast

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
from suanli.scoring.filters import check_capacity, check_hard, format_reason_counts
from suanli.scoring.scorers import SCORERS, USAGE_SIGNALS
from suanli.state.cluster import ClusterState, NodeEntry

_FEASIBLE = Verdict("", Outcome.FEASIBLE)
_STATIC = tuple((name, scorer) for name, scorer in SCORERS if name not in USAGE_SIGNALS)
_USAGE = tuple((name, scorer) for name, scorer in SCORERS if name in USAGE_SIGNALS)
# Memo entries kept before a memo starts over (a long-lived extender sees ever new pod kinds).
_MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class Choice:
    """One decision: the best feasible nodes with full results, and why the others do not fit."""

    candidates: int  # known nodes judged
    ranked: tuple[NodeResult, ...]  # full results of the best `detail` nodes, best first
    feasible: int  # how many candidates fit
    failed: dict[str, str]  # resolvable: node -> reason category
    unresolvable: dict[str, str]
    unknown: tuple[str, ...] = ()  # names the state does not know
    # The best `keep` feasible nodes with their scores (the ranked ones first).
    top: tuple[tuple[str, int], ...] = ()
    # Each known candidate's group, and (score, total) per feasible group.
    _names: Sequence[str] = field(default=(), repr=False, compare=False)
    _groups: Sequence[Hashable] = field(default=(), repr=False, compare=False)
    _totals: Mapping[Hashable, tuple[int, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def ranking(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.top)

    def result(self, node: str) -> NodeResult | None:
        return next((r for r in self.ranked if r.node == node), None)

    def scores(self) -> dict[str, int]:
        """The 0..10 score of every feasible candidate."""
        totals = self._totals
        return {
            n: totals[g][0] for n, g in zip(self._names, self._groups, strict=True) if g in totals
        }

    def feasible_names(self) -> tuple[str, ...]:
        """Every feasible candidate, best first (the reference ranking)."""
        return ranked_names(self._names, self._groups, self._totals, self.feasible)

    @property
    def unschedulable_reason(self) -> str:
        """Empty when some node fits; else the aggregated filter reasons."""
        if self.feasible:
            return ""
        counts = Counter(self.failed.values())
        counts.update(self.unresolvable.values())
        return format_reason_counts(counts)


_SECOND: Callable[[tuple[str, str | None]], Any] = itemgetter(1)


def _by_name(
    names: Sequence[str],
    groups: Sequence[Hashable],
    reasons: Mapping[Hashable, tuple[Outcome, str]],
    outcome: Outcome,
) -> dict[str, str]:
    """Name -> reason for the names whose group failed with `outcome`."""
    wanted = {g: reason for g, (o, reason) in reasons.items() if o is outcome}
    if not wanted:
        return {}
    # A reason is never empty: filtering on truth keeps the whole loop in C.
    pairs = filter(_SECOND, zip(names, map(wanted.get, groups), strict=True))
    return dict(cast(Iterator[tuple[str, str]], pairs))


def ranked_names(
    names: Sequence[str],
    groups: Sequence[Hashable],
    totals: Mapping[Hashable, tuple[int, float]],
    limit: int,
) -> tuple[str, ...]:
    """The first `limit` names by (score, total, name), reading only the groups that can be
    among them."""
    if limit <= 0 or not totals:
        return ()
    sizes = Counter(groups)
    best = sorted(totals, key=lambda g: (-totals[g][0], -totals[g][1]))
    chosen: set[Hashable] = set()
    counted = 0
    for index, group in enumerate(best):
        chosen.add(group)
        counted += sizes[group]
        following = best[index + 1] if index + 1 < len(best) else None
        # Stop once enough names are in, but never between two groups of equal totals.
        if counted >= limit and (following is None or totals[following] != totals[group]):
            break
    inside = list(map(chosen.__contains__, groups))
    members = list(zip(compress(names, inside), compress(groups, inside), strict=True))
    members.sort(key=lambda item: (-totals[item[1]][0], -totals[item[1]][1], item[0]))
    return tuple(n for n, _ in members[:limit])


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
            known, groups, unknown = self._group(context, state.names() if names is None else names)
            return self._choose(
                context,
                known,
                groups,
                unknown,
                keep=keep,
                detail=keep if detail is None else detail,
            )

    def _group(
        self, context: Context, names: Sequence[str]
    ) -> tuple[list[str], list[Hashable], tuple[str, ...]]:
        """The known names, each one's group (its usage state), and the unknown names."""
        state_of = self.state.state_of
        states: list[Hashable] = list(map(state_of.get, names))
        unknown: tuple[str, ...] = ()
        if None in states:
            unknown = tuple(n for n, s in zip(names, states, strict=True) if s is None)
            known = [(n, s) for n, s in zip(names, states, strict=True) if s is not None]
            names, states = [n for n, _ in known], [s for _, s in known]
        # Only a same-node gang with peers tells nodes of one usage state apart by name.
        if context.demand.spec.same_domain is Domain.NODE and context.peer_domains:
            states = list(zip(states, names, strict=True))
        return list(names), states, unknown

    def _choose(
        self,
        context: Context,
        names: list[str],
        groups: list[Hashable],
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
        representative = dict(zip(groups, names, strict=True))
        reasons: dict[Hashable, tuple[Outcome, str]] = {}
        totals: dict[Hashable, tuple[int, float]] = {}
        for group, name in representative.items():
            entry = nodes[name]
            verdict, values = self._judge(context, entry, kind, capacity_kind, peer_key)
            if verdict is None:
                total = total_of(pairs, weight_sum, values)
                totals[group] = (round_score(total), total)
            else:
                reasons[group] = (verdict.outcome, verdict.category or verdict.reason)
        # Per name, but in C (map, filter, zip): the one part whose cost grows with the fleet.
        failed = _by_name(names, groups, reasons, Outcome.RESOLVABLE)
        unresolvable = _by_name(names, groups, reasons, Outcome.UNRESOLVABLE)
        count = len(names) - len(failed) - len(unresolvable)
        best = ranked_names(names, groups, totals, keep)
        ranked = tuple(
            score_node(context, nodes[name].snapshot(), Verdict(name, Outcome.FEASIBLE))
            for name in best[:detail]
        )
        group_of = {n: g for n, g in zip(names, groups, strict=True) if n in set(best)}
        return Choice(
            len(names),
            tuple(sorted(ranked, key=ranking_key)),
            count,
            failed,
            unresolvable,
            unknown,
            tuple((n, totals[group_of[n]][0]) for n in best),
            names,
            groups,
            totals,
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
