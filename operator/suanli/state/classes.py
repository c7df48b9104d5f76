"""The node classes a pod's hard requirements allow, with the best total each could reach.

A decision over the state visits classes by that total, best first. Which classes allow a pod
kind, and their facts-only part, stay while the judge's memos hold and no class gains its first
node state or loses its last: they are kept per pod kind. What changes with every placement is
the capacity kept for typed pods (the workload's pressure), worked out once per accelerator type;
while it stays (always, for pods without devices), so does the ranking.
"""

from __future__ import annotations

from collections.abc import Hashable
from operator import itemgetter

from suanli.scoring.combine import resolved, weight_pairs, weights_of
from suanli.scoring.context import Context
from suanli.scoring.facts import Domain
from suanli.scoring.scorers.packing import packing_value
from suanli.state.cluster import ClusterState
from suanli.state.entry import NodeEntry
from suanli.state.judge import Judge
from suanli.state.kept import Allowed, ClassPart, Ranked
from suanli.state.totals import Total


def ranked_classes(
    state: ClusterState, judge: Judge, context: Context, kind: int, total: Total
) -> Ranked:
    """The classes the pod's hard requirements allow, with the best total each could reach,
    best first (ties by class id)."""
    demand = context.demand
    peer_key = tuple(context.peer_domains.items())
    same = demand.spec.same_domain if peer_key else None
    if same is not None:
        return _by_domain(state, judge, context, (kind, peer_key), same=same, total=total)
    allowed = _allowed(state, judge, context, (kind, peer_key))
    workload = bool(context.workload)
    # No placement removes more fragmentation than the pod fills.
    ceiling_change = -float(demand.gpu.total_milli)
    milli = demand.gpu.total_milli
    if workload and milli:
        # `reservation_on` per type, with the pressure read from a dict once, not per type.
        pressure = dict(context.workload.pressure)
        taken = tuple(
            [pressure.get(name, 0.0) * milli if name is not None else 0.0 for name in allowed.types]
        )
    else:
        taken = (0.0,) * len(allowed.types)  # a pod without devices takes none (x 0 is 0.0)
    if allowed.ranked is not None and taken == allowed.taken:
        return allowed.ranked
    config = context.config
    weight, weight_sum = total.packing_weight, total.weight_sum
    # accelerator type -> (capacity kept for typed pods taken, the weighted best packing
    # signal): `Total` adds that product to the class's partial sum, so the product made once
    # per type and added per class is the very same float, without a call per class.
    by_type = {
        name: (
            reserved,
            weight * (packing_value(ceiling_change, reserved, config) if workload else 1.0),
        )
        for name, reserved in zip(allowed.types, taken, strict=True)
    }
    classes: Ranked = []
    for class_id, type_name, partial in allowed.classes:
        reserved, weighted = by_type[type_name]
        value = resolved((partial + weighted) / weight_sum)
        # Made as the tuple it is, without the named tuple's constructor (a Python call).
        classes.append((value, class_id, _new_part(ClassPart, (None, partial, reserved))))
    # Best first, ties by class id: two sorts in C (a reversed sort keeps equals' order).
    classes.sort(key=_CLASS_ID)
    classes.sort(key=_BEST, reverse=True)
    allowed.taken, allowed.ranked = taken, classes
    return classes


_new_part = tuple.__new__
_BEST = itemgetter(0)
_CLASS_ID = itemgetter(1)


def _representative(state: ClusterState, class_id: int) -> NodeEntry:
    """A node of the class (one of its first usage state in its first room)."""
    rooms = state.rooms[class_id]
    return state.nodes[next(iter(state.members[next(iter(next(iter(rooms.values()))))]))]


def _allowed(
    state: ClusterState,
    judge: Judge,
    context: Context,
    kinds: tuple[int, Hashable],
) -> Allowed:
    """The classes with nodes that the pod kind's hard requirements allow, kept while the set
    of classes with nodes stays."""
    version = state.classes_version
    known = judge.allowed.get(kinds)
    if known is not None and known.version == version:
        return known
    found = Allowed(version, [], {})
    pairs, _ = weight_pairs(weights_of(context.demand))
    for class_id, rooms in state.rooms.items():
        if not rooms:
            continue
        entry = _representative(state, class_id)
        part = judge.class_part(context, entry, (*kinds, class_id), pairs)
        if part.failure is None:
            accelerator = entry.facts.accelerator
            type_name = accelerator.type.name if accelerator and accelerator.type else None
            found.classes.append((class_id, type_name, part.partial))
            found.types.setdefault(type_name, entry.facts)
    judge.allowed[kinds] = found
    return found


def _by_domain(
    state: ClusterState,
    judge: Judge,
    context: Context,
    kinds: tuple[int, Hashable],
    *,
    same: Domain,
    total: Total,
) -> Ranked:
    """`ranked_classes` for a gang bound to its peers' domain: a class's answer depends on the
    domain of its node too, read from its representative."""
    kind, peer_key = kinds
    pairs, _ = weight_pairs(weights_of(context.demand))
    ceiling_change = -float(context.demand.gpu.total_milli)
    classes: Ranked = []
    for class_id, rooms in state.rooms.items():
        if not rooms:
            continue
        entry = _representative(state, class_id)
        class_key = (class_id, entry.facts.domain(same))
        part = judge.class_part(context, entry, (kind, peer_key, class_key), pairs)
        if part.failure is None:
            ceiling = (
                packing_value(ceiling_change, part.reserved, context.config)
                if context.workload
                else 1.0
            )
            classes.append((total(ceiling, part), class_id, part))
    classes.sort(key=lambda item: (-item[0], item[1]))
    return classes
