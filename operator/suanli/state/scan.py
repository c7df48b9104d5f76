"""The best nodes for a pod without judging every usage state: the decider's `complete=False`
path when nothing tells nodes of one usage state apart.

Classes are visited by the best total they could reach; within a class, a usage state is scored
exactly only when its bound can still reach the best found. Within one class and decision the
class part (facts-only signals, reserved capacity) is the same for every state, so a bound or
a total depends on one number alone (the state's fragmentation, its packing usage): each
distinct number is turned into a total once, with the same arithmetic as `Total`, so the floats
are those of the reference. A class's states with room for the pod's devices are kept in the
order of their fragmentation (the bound falls with it, `suanli.state.roomy`), shared by pods of
one device request; those of them with the pod's cpu, memory and a slot are kept per capacity
kind while that order stays.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import cast

from suanli.scoring import Outcome, Verdict
from suanli.scoring.combine import ranking_key, round_score, score_node
from suanli.scoring.context import Context
from suanli.scoring.scorers.packing import packing_value
from suanli.state.choice import Candidates, Choice, Everyone, Listed, ranked_names
from suanli.state.classes import ranked_classes
from suanli.state.cluster import ClusterState
from suanli.state.entry import NodeEntry
from suanli.state.judge import Judge
from suanli.state.kept import ClassPart
from suanli.state.roomy import Asked, fitting_states
from suanli.state.ties import first_tied
from suanli.state.totals import BestSoFar, Total


def best_only(
    state: ClusterState, judge: Judge, context: Context, *, keep: int, detail: int
) -> Choice | None:
    """The best `keep` of every node (full results for the first `detail`); None when nothing
    fits (the caller then judges every node for reasons)."""
    kind, capacity_kind, total = judge.kinds(context)
    nowhere = (kind, capacity_kind, tuple(context.peer_domains.items()))
    if judge.nowhere.get(nowhere) == state.freed:
        return None  # it fit nowhere, and nothing has given room since
    best = BestSoFar(keep)
    totals: dict[Hashable, tuple[int, float]] = {}
    scored: list[int] = []
    asked = Asked(judge, context, capacity_kind)
    request = context.demand.gpu
    wants, whole, milli = request.wants, request.whole, request.milli
    for ceiling, class_id, part in ranked_classes(state, judge, context, kind, total):
        if ceiling < best.floor:
            break  # sorted: no class further on can reach the best
        if wants:
            most = state.roomiest(class_id)
            if most[0] < whole or most[1] < milli:
                continue  # no node of the class has the devices (none would fit)
        _score_class(
            state,
            judge,
            asked,
            class_id=class_id,
            kind=kind,
            ceiling=ceiling,
            part=part,
            total=total,
            best=best,
            totals=totals,
            scored=scored,
        )
    if not totals:
        judge.nowhere[nowhere] = state.freed
        return None
    nodes, members = state.nodes, state.members
    chosen: tuple[tuple[str, Hashable], ...]
    # A choice of the best only keeps no candidates by group: it has no verdicts or scores of
    # the others to name them by (its readers refuse), so they are listed only to rank.
    judged: Candidates = _NO_CANDIDATES
    if keep == 1:
        name, number = _first_among_best(state, totals)
        chosen = ((name, number),)
    else:
        chosen = ranked_names(Everyone({n: members[n] for n in scored}), totals, keep)
    ranked = tuple(
        score_node(context, nodes[name].snapshot(), Verdict(name, Outcome.FEASIBLE))
        for name, _ in chosen[:detail]
    )
    return Choice(
        len(nodes),
        tuple(sorted(ranked, key=ranking_key)),
        None,
        (),
        tuple((name, totals[group][0]) for name, group in chosen),
        judged,
        totals,
        {},
        False,
    )


_NO_CANDIDATES = Listed((), ())


def _first_among_best(
    state: ClusterState, totals: dict[Hashable, tuple[int, float]]
) -> tuple[str, int]:
    """`ranked_names(..., 1)` from each usage state's first node: the best (score, total),
    then the least (tie rank, name) of the nodes of every state that has it (no two states
    share a node, so their first nodes differ)."""
    top = max(totals.values())
    first = state.first_of
    states = cast(dict[int, tuple[int, float]], totals)  # a state id per group here
    rank, number = min((first(g), g) for g, t in states.items() if t == top)
    return rank[1], number


def _score_class(
    state: ClusterState,
    judge: Judge,
    asked: Asked,
    *,
    class_id: int,
    kind: int,
    ceiling: float,
    part: ClassPart,
    total: Total,
    best: BestSoFar,
    totals: dict[Hashable, tuple[int, float]],
    scored: list[int],
) -> None:
    """Score the class's states that fit the pod and can still reach the best, into
    `totals`: by fragmentation, most first, so that bounds only fall and the first one out of
    reach ends the class (the bound is the same for every state without a workload)."""
    filled = asked.filled  # the class's ceiling is the bound of states with more before
    tie_read = best.keep == 1
    ties_first = tie_read and filled <= 0  # see below
    roomy = [] if ties_first else fitting_states(state, judge, asked, class_id)
    if not (ties_first or roomy):
        return  # most classes a pod visits have no state that fits: nothing to set up
    context, workload, capacity_kind = asked.context, asked.workload, asked.capacity_kind
    nodes, members = state.nodes, state.members
    config, reserved = context.config, part.reserved
    # With a workload the usage part is the fragmentation change of the pod's device choice,
    # which its requests settle: pods of one capacity kind share it whatever else they ask.
    usage_kind = capacity_kind if workload else kind
    bounds: dict[float, float] = {}  # fragmentation before -> bound total, this class only
    exact_of = _Exact(judge, context, judge.usage_of(usage_kind), part, total)

    # Ties are read with `first_tied` where needed, not through a closure: the names a closure
    # holds are cells, read slower everywhere in this function.
    # Once a state reaches the ceiling, the rest of the class can only tie (keep=1): look for
    # an earlier node by rank among the ties rather than listing them, unless that gave up.
    if ties_first:
        # Every state's bound is the ceiling (a pod without devices, or no workload), which
        # most reach: the first node by rank that does is the class's answer, if one does.
        # Only a node before the first of those found at the ceiling already can be chosen.
        ahead = [state.first_of(cast(int, g)) for g, t in totals.items() if t[1] == ceiling]
        done, first = first_tied(
            state,
            judge,
            context,
            class_id=class_id,
            capacity_kind=capacity_kind,
            usage_kind=usage_kind,
            part=part,
            exact=exact_of,
            top=ceiling,
            below=min(ahead, default=_END),
        )
        if first is not None:
            totals[first] = exact_of(first, nodes[next(iter(members[first]))])
            scored.append(first)
            best.add(ceiling, len(members[first]))
            return
        if done and ahead:
            return  # none before it ties, and nothing of the class totals more
        tie_read = done  # all read, none reaches the ceiling: list the ties as they come
        roomy = fitting_states(state, judge, asked, class_id)
    for negative, number in roomy:
        names = members[number]
        before = -negative
        # min(before, filled) is filled: the class's ceiling (a total, never below 0).
        bound = ceiling if before >= filled else bounds.get(before, -1.0)
        if bound < 0:
            bound = bounds[before] = total(packing_value(-before, reserved, config), part)
        if bound < best.floor:
            break  # bounds only fall further on
        found = exact_of(number, nodes[next(iter(names))])
        if found[1] < best.floor:
            continue  # below the best `keep` found: neither counted nor ranked
        totals[number] = found
        scored.append(number)
        best.add(found[1], len(names))
        if tie_read and found[1] >= ceiling:
            done, earlier = first_tied(
                state,
                judge,
                context,
                class_id=class_id,
                capacity_kind=capacity_kind,
                usage_kind=usage_kind,
                part=part,
                exact=exact_of,
                top=found[1],
                below=state.first_of(number),
            )
            if done:
                if earlier is not None:
                    totals[earlier] = found
                    scored.append(earlier)
                return
            tie_read = False


_END = (math.inf, "")  # after every node by rank


class _Exact:
    """(score, total) of a class's usage states for one decision: the usage part per state
    (remembered across decisions), then each distinct usage turned into a total once."""

    __slots__ = ("context", "exact", "judge", "known", "part", "total")

    def __init__(
        self,
        judge: Judge,
        context: Context,
        known: dict[int, float],
        part: ClassPart,
        total: Total,
    ) -> None:
        self.judge, self.context, self.known = judge, context, known
        self.part, self.total = part, total
        self.exact: dict[float, tuple[int, float]] = {}  # usage -> (score, total)

    def __call__(self, number: int, entry: NodeEntry) -> tuple[int, float]:
        usage = self.known.get(number)
        if usage is None:
            usage = self.judge.fresh_usage(self.context, entry, self.known)
        found = self.exact.get(usage)
        if found is None:
            context = self.context
            if context.workload:
                signal = packing_value(usage, self.part.reserved, context.config)
            else:
                signal = usage
            value = self.total(signal, self.part)
            found = self.exact[usage] = (round_score(value), value)
        return found
