"""The best nodes for a pod without judging every usage state: the decider's `complete=False`
path when nothing tells nodes of one usage state apart.

Classes are visited by the best total they could reach; within a class, a usage state is scored
exactly only when its bound can still reach the best found. Within one class and decision the
class part (facts-only signals, reserved capacity) is the same for every state, so a bound or
a total depends on one number alone (the state's fragmentation, its packing usage): each
distinct number is turned into a total once, with the same arithmetic as `Total`, so the floats
are those of the reference. The states a capacity kind fits are kept per class and brought up
to date from the class's room changes rather than listed afresh.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from suanli.scoring import Outcome, PodDemand, Verdict
from suanli.scoring.combine import ranking_key, round_score, score_node, weight_pairs, weights_of
from suanli.scoring.context import Context
from suanli.scoring.scorers.packing import packing_value
from suanli.state.choice import Choice, Everyone, ranked_names
from suanli.state.cluster import ClusterState, Room, fits_room
from suanli.state.judge import BestSoFar, ClassPart, Judge, Total


def best_only(
    state: ClusterState, judge: Judge, context: Context, *, keep: int, detail: int
) -> Choice | None:
    """The best `keep` of every node (full results for the first `detail`); None when nothing
    fits (the caller then judges every node for reasons)."""
    demand = context.demand
    kind = judge.kind_id((*demand.judged_by, bool(context.workload)))
    capacity_kind = judge.kind_id((demand.requests, demand.gpu_milli))
    total = Total(*weight_pairs(weights_of(demand)))
    best = BestSoFar(keep)
    totals: dict[Hashable, tuple[int, float]] = {}
    scored: list[int] = []
    for ceiling, class_id, part in _classes(state, judge, context, kind, total):
        if ceiling < best.floor:
            break  # sorted: no class further on can reach the best
        fitting = _fitting(state, judge, context, class_id, capacity_kind)
        _score_class(
            state,
            judge,
            context,
            kind=kind,
            fitting=fitting,
            ceiling=ceiling,
            part=part,
            total=total,
            best=best,
            totals=totals,
            scored=scored,
        )
    if not totals:
        return None
    nodes, members = state.nodes, state.members
    judged = Everyone({number: members[number] for number in scored})
    chosen = ranked_names(judged, totals, keep)
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


def _classes(
    state: ClusterState, judge: Judge, context: Context, kind: int, total: Total
) -> list[tuple[float, int, ClassPart]]:
    """The classes the pod's hard requirements allow, with the best total each could reach,
    best first (ties by class id)."""
    demand = context.demand
    peer_key = tuple(context.peer_domains.items())
    same = demand.spec.same_domain if peer_key else None
    pairs, _ = weight_pairs(weights_of(demand))
    ceiling_change = -float(demand.gpu.total_milli)
    nodes, members = state.nodes, state.members
    classes: list[tuple[float, int, ClassPart]] = []
    for class_id, rooms in state.rooms.items():
        if not rooms:
            continue
        entry = nodes[next(iter(members[next(iter(next(iter(rooms.values()))))]))]
        class_key = (class_id, entry.facts.domain(same)) if same else class_id
        part = judge.class_part(context, entry, (kind, peer_key, class_key), pairs)
        if part.failure is None:
            # No placement removes more fragmentation than the pod fills.
            ceiling = (
                packing_value(ceiling_change, part.reserved, context.config)
                if context.workload
                else 1.0
            )
            classes.append((total(ceiling, part), class_id, part))
    classes.sort(key=lambda item: (-item[0], item[1]))
    return classes


def _score_class(
    state: ClusterState,
    judge: Judge,
    context: Context,
    *,
    kind: int,
    fitting: dict[int, None],
    ceiling: float,
    part: ClassPart,
    total: Total,
    best: BestSoFar,
    totals: dict[Hashable, tuple[int, float]],
    scored: list[int],
) -> None:
    """Score the class's fitting states that can still reach the best, into `totals`."""
    nodes, members = state.nodes, state.members
    config, reserved = context.config, part.reserved
    workload = bool(context.workload)
    filled = float(context.demand.gpu.total_milli)
    befores = judge.before
    known = judge.usage_of(kind)
    bounds: dict[float, float] = {}  # fragmentation before -> bound total, this class only
    exact: dict[float, tuple[int, float]] = {}  # usage -> (score, total), this class only
    for number in fitting:
        if workload:
            before = befores.get(number)
            if before is None:
                before = judge.fresh_before(context, nodes[next(iter(members[number]))])
            if before >= filled:
                bound = ceiling  # min(before, filled) is filled: the class's ceiling
            else:
                bound = bounds.get(before, -1.0)
                if bound < 0:
                    bound = bounds[before] = total(packing_value(-before, reserved, config), part)
            if bound < best.floor:
                continue
        elif ceiling < best.floor:
            break  # without a workload every state's bound is the ceiling
        usage = known.get(number)
        if usage is None:
            usage = judge.fresh_usage(context, nodes[next(iter(members[number]))], known)
        found = exact.get(usage)
        if found is None:
            signal = packing_value(usage, reserved, config) if workload else usage
            value = total(signal, part)
            found = exact[usage] = (round_score(value), value)
        if found[1] < best.floor:
            continue  # below the best `keep` found: neither counted nor ranked
        totals[number] = found
        scored.append(number)
        best.add(found[1], len(members[number]))


def _fitting(
    state: ClusterState, judge: Judge, context: Context, class_id: int, capacity_kind: int
) -> dict[int, None]:
    """The class's usage states that can take the pod now. A list kept from an earlier room
    version of the class is brought up to date by looking at the states that changed since."""
    version = state.room_version.get(class_id, 0)
    kept = judge.fitting(class_id, capacity_kind)
    if kept is not None and kept[0] == version:
        return kept[1]
    changed = state.room_changes(class_id, kept[0]) if kept is not None else None
    members, nodes = state.members, state.nodes
    known = judge.fits_of(capacity_kind)
    request = context.demand.gpu
    if kept is None or changed is None:
        found: dict[int, None] = {}
        candidates: Iterator[int] = _roomy(state.rooms[class_id], context.demand)
    else:
        found = kept[1]
        candidates = iter(dict.fromkeys(changed))
    for number in candidates:
        if number not in members or (
            request.wants
            and not fits_room(state.room_of_state(number), request.whole, request.milli)
        ):
            found.pop(number, None)  # gone, or its devices cannot take the pod
            continue
        fits = known.get(number)
        if fits is None:
            entry = nodes[next(iter(members[number]))]
            fits = judge.fresh_fits(context, entry, capacity_kind, known)
        if fits:
            found[number] = None
        else:
            found.pop(number, None)
    judge.keep_fitting(class_id, capacity_kind, version, found)
    return found


def _roomy(rooms: dict[Room, set[int]], demand: PodDemand) -> Iterator[int]:
    """The usage states of a class whose devices could take the pod: the others lack devices
    (an exact verdict, `check_capacity` would say so)."""
    request = demand.gpu
    for room, numbers in rooms.items():
        if not request.wants or fits_room(room, request.whole, request.milli):
            yield from numbers
