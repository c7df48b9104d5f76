"""Decisions over the cluster state whose cost follows the distinct node states, not the nodes.

`evaluate` (the reference) judges every candidate on its own. The answer of a node depends on:
its facts, which are those of its class (and, for a gang asking for the same domain, the
node's domain value); its usage, summed up as a usage state id; the pod; the job's peers; and
the workload. So candidates are grouped by usage state, and each group is judged once:

- hard requirements and the facts-only signals once per pod kind and class (kept across
  decisions: a stream of identical pods reuses them);
- capacity and packing once per pod kind and usage state (also kept: between two pods only the
  node that took the last one has a new state).

A caller that needs only the best nodes (gang planning, the simulator) may let the decider skip
the exact packing of groups whose upper bound cannot reach them (`complete=False`); verdicts
stay exact for every node. Full results (breakdown, explanation, devices) are built, with the
reference functions, only for the nodes returned ranked. A property test checks verdicts,
ranking and results against `evaluate` over every node, in both modes.
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
from suanli.scoring.combine import ranking_key, round_score, score_node, weight_pairs, weights_of
from suanli.scoring.context import Context, build_context
from suanli.scoring.datapolicy import BASELINE_POLICY, DataPolicy
from suanli.scoring.facts import Domain, NodeFacts
from suanli.state.choice import Candidates, Choice, Everyone, Listed, ranked_names
from suanli.state.cluster import ClusterState
from suanli.state.entry import NodeEntry
from suanli.state.judge import Judge
from suanli.state.kept import ClassPart, Reason
from suanli.state.scan import best_only
from suanli.state.totals import BestSoFar, Total

_Feasible = tuple[Hashable, NodeEntry, ClassPart]


class Decider:
    """Decisions over one `ClusterState`, with memos that outlive a decision."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.judge = Judge()

    @property
    def evaluated(self) -> int:
        """Usage states judged afresh (not from a memo), for benchmarks."""
        return self.judge.evaluated

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
        complete: bool = True,
        explain_failure: bool = True,
        peers: Sequence[NodeFacts] | None = None,
        data_policy: DataPolicy = BASELINE_POLICY,
    ) -> Choice:
        """Judge the named nodes (all nodes when None) for `demand`: the best `keep` ranked,
        full results (breakdown, explanation, devices) for the first `detail` of them (all by
        default). `complete=False`: only the best are scored exactly (no `scores()`), and when
        something fits the other nodes' verdicts are not kept either; `explain_failure=False`:
        when nothing fits, not even why (a replay that just drops the pod). `peers` default to
        the nodes of the state holding the job's other pods (read for a sameDomain only)."""
        state = self.state
        with state.lock:
            self.judge.start(
                catalog, latency, config, state.epoch, workload, data_policy=data_policy
            )
            if peers is None and demand.spec.same_domain is not None:
                # Peers count only toward a sameDomain; listing them walks the whole job's
                # pods: for a 4096-pod job, 8 % of the extender's CPU time.
                peers = state.peers_of(demand.job, demand.key)
            context = build_context(
                demand,
                (),
                catalog,
                latency,
                peers=peers if peers is not None else (),
                config=config,
                workload=workload,
                fragmentation_memo=self.judge.fragmentation if workload else None,
                plan_memo=self.judge.plans if workload else None,
                data_policy=data_policy,
            )
            shown = keep if detail is None else detail
            # Nodes of one usage state differ by name for a same-node gang: no shortcut there.
            by_name = demand.spec.same_domain is Domain.NODE and bool(context.peer_domains)
            if not complete and names is None and keep > 0 and not by_name:
                best = best_only(state, self.judge, context, keep=keep, detail=shown)
                if best is not None:
                    return best
                if not explain_failure:
                    return Choice(len(state.nodes), (), None)
            judged, unknown = self._candidates(context, names)
            return self._choose(
                context,
                judged,
                unknown,
                keep=keep,
                detail=shown,
                complete=complete,
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
        complete: bool,
    ) -> Choice:
        kind, capacity_kind = self._kinds(context)
        reasons, feasible = self._verdicts(context, judged, kind, capacity_kind)
        totals = self._totals(context, judged, feasible, kind, keep=keep, complete=complete)
        best = ranked_names(judged, totals, keep)
        nodes = self.state.nodes
        ranked = tuple(
            score_node(context, nodes[name].snapshot(), Verdict(name, Outcome.FEASIBLE))
            for name, _ in best[:detail]
        )
        sizes = judged.sizes
        return Choice(
            judged.count,
            tuple(sorted(ranked, key=ranking_key)),
            sum(sizes[group] for group, _, _ in feasible),
            unknown,
            tuple((name, totals[group][0]) for name, group in best),
            judged,
            totals,
            reasons,
            complete,
        )

    def _kinds(self, context: Context) -> tuple[int, int]:
        """The pod kind (for facts and packing) and its capacity kind, as small ints."""
        demand = context.demand
        judge = self.judge
        return (
            judge.kind_id((*demand.judged_by, bool(context.workload))),
            judge.kind_id((demand.requests, demand.gpu_milli)),
        )

    def _verdicts(
        self, context: Context, judged: Candidates, kind: int, capacity_kind: int
    ) -> tuple[dict[Hashable, Reason], list[_Feasible]]:
        """Every group's verdict: the reason it fails, or a place among the feasible."""
        demand = context.demand
        peer_key = tuple(context.peer_domains.items())
        same = demand.spec.same_domain if peer_key else None
        pairs, _ = weight_pairs(weights_of(demand))
        nodes = self.state.nodes
        classes: dict[Hashable, ClassPart] = {}
        reasons: dict[Hashable, Reason] = {}
        feasible: list[_Feasible] = []
        for group, name in judged.representatives().items():
            entry = nodes[name]
            # Facts only: once per class (and domain, for a gang bound to its peers' domain).
            class_key = (entry.class_id, entry.facts.domain(same)) if same else entry.class_id
            part = classes.get(class_key)
            if part is None:
                part = classes[class_key] = self.judge.class_part(
                    context, entry, (kind, peer_key, class_key), pairs
                )
            failure = part.failure or self.judge.lack(context, entry, capacity_kind)
            if failure is not None:
                reasons[group] = failure
            else:
                feasible.append((group, entry, part))
        return reasons, feasible

    def _totals(
        self,
        context: Context,
        judged: Candidates,
        feasible: list[_Feasible],
        kind: int,
        *,
        keep: int,
        complete: bool,
    ) -> dict[Hashable, tuple[int, float]]:
        """(score, total) of the feasible groups: all of them, or (not `complete`) enough, in
        the order of their upper bounds, to be sure of the best `keep` nodes."""
        total = Total(*weight_pairs(weights_of(context.demand)))
        judge = self.judge
        totals: dict[Hashable, tuple[int, float]] = {}
        if complete:
            for group, entry, part in feasible:
                exact = total(judge.packing(context, entry, kind, part), part)
                totals[group] = (round_score(exact), exact)
            return totals
        if keep <= 0:
            return totals
        if context.demand.gpu.total_milli:
            bounds = [
                total(judge.packing_at_most(context, entry, part), part)
                for _, entry, part in feasible
            ]
        else:
            # A pod without devices absorbs no fragmentation: every usage state of a class has
            # its class part's bound, worked out once (hundreds of states, a few classes).
            ceilings: dict[int, float] = {}
            bounds = []
            for _, entry, part in feasible:
                found = ceilings.get(id(part))
                if found is None:
                    found = total(judge.packing_at_most(context, entry, part), part)
                    ceilings[id(part)] = found
                bounds.append(found)
        bounded = sorted(zip(bounds, range(len(bounds)), strict=True), reverse=True)
        best = BestSoFar(keep)
        sizes = judged.sizes
        for bound, index in bounded:
            if best.out_of_reach(bound):
                break  # sorted by bound: nothing further can reach the best
            group, entry, part = feasible[index]
            exact = total(judge.packing(context, entry, kind, part), part)
            totals[group] = (round_score(exact), exact)
            best.add(exact, sizes[group])
        return totals
