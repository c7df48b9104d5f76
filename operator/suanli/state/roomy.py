"""A class's usage states whose devices have room for a pod's, by expected fragmentation, kept
between decisions per class and device request and brought up to date from the states that
joined the class since, rather than listed afresh; and, kept and brought up to date alike, those
of them that can take a pod kind (per capacity kind), which `suanli.state.scan` reads."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterator

from suanli.scoring.context import Context
from suanli.state.cluster import ClusterState
from suanli.state.entry import Room, fits_room
from suanli.state.judge import Judge
from suanli.state.kept import Order


class Asked:
    """What one decision asks of the classes it reads, worked out once per decision rather
    than on every visit of a class: whether there is a workload (and the shapes the judge has
    seen), how much of the pod's devices it fills, its capacity kind with the judge's memo of
    fits, and the orders kept for its device request."""

    __slots__ = ("capacity_kind", "context", "filled", "fits", "orders", "shapes", "workload")

    def __init__(self, judge: Judge, context: Context, capacity_kind: int) -> None:
        request = context.demand.gpu
        self.context = context
        self.workload = bool(context.workload)
        self.shapes = judge.shapes_seen if self.workload else 0
        # Without a workload every state's bound is its class's ceiling (`suanli.state.scan`).
        self.filled = float(request.total_milli) if self.workload else -math.inf
        self.capacity_kind = capacity_kind
        self.fits = judge.fits_of(capacity_kind)
        key = (request.whole, request.milli, self.workload)
        orders = judge.orders.get(key)
        if orders is None:
            orders = judge.orders[key] = {}
        self.orders = orders


def fitting_states(
    state: ClusterState, judge: Judge, asked: Asked, class_id: int
) -> list[tuple[float, int]]:
    """The class's usage states that can take the pod (room for its devices, its cpu, memory
    and a pod slot), by expected fragmentation, most first (all alike without a workload): the
    class's roomy states (`_catch_up`) without those that left the class since they were
    listed and those that lack the pod's cpu, memory or a pod slot. Kept per capacity kind
    along with the roomy states, and brought up to date from the states that joined or left
    the class since (whether a state fits a capacity kind is remembered by the judge): most
    roomy states lack the cpu, memory or slot of a pod, and most classes a pod visits changed
    little or not at all since the last pod of its kind."""
    order = asked.orders.get(class_id)
    if (
        order is None
        or order.version != state.room_version.get(class_id, 0)
        or order.shapes != asked.shapes
    ):
        order = _catch_up(state, judge, asked, class_id, order)
    known = asked.fits
    kept = order.fitting.get(asked.capacity_kind)
    if kept is not None and kept[0] is known and kept[2] == order.version:
        return kept[1]
    fits = Fits(state, judge, asked.context, asked.capacity_kind)
    if kept is not None and kept[0] is known:
        listed = _caught_up(fits, order, class_id, kept[1], kept[2])
        if listed is not None:
            return listed
    members = state.members
    listed = []
    for entry in order.entries:
        number = entry[1]
        names = members.get(number) if known.get(number) is not False else None
        if names is not None and fits(number, names):
            listed.append(entry)
    order.fitting[asked.capacity_kind] = (known, listed, order.version)
    return listed


def _caught_up(
    fits: Fits, order: Order, class_id: int, listed: list[tuple[float, int]], seen: int
) -> list[tuple[float, int]] | None:
    """`fitting_states` from those kept as of an earlier room version of the class: those
    that left dropped, those that joined (or came back) since with room and the pod's cpu,
    memory and slot put in their place (None: an entry to put is not known, list afresh)."""
    state = fits.state
    members = state.members
    listed = [entry for entry in listed if entry[1] in members]
    workload = bool(fits.context.workload)
    befores = fits.judge.before
    for number, joined in reversed(state.joined[class_id].items()):
        if joined <= seen:
            break
        if number not in order.listed or not fits(number, members[number]):
            continue  # no room for the pod's devices, or no cpu, memory or slot
        # The entry `_catch_up` listed it with (its fragmentation stays while the shapes do).
        before = befores.get(number) if workload else 0.0
        if before is None:
            return None
        entry = (-before, number) if workload else (0.0, number)
        at = bisect_left(listed, entry)
        if at == len(listed) or listed[at] != entry:  # not kept already (left and came back)
            listed.insert(at, entry)
    order.fitting[fits.kind] = (fits.known, listed, order.version)
    return listed


class Fits:
    """Whether a usage state whose devices have room for the pod's has its cpu, memory and a
    pod slot too (remembered per capacity kind)."""

    __slots__ = ("context", "judge", "kind", "known", "state")

    def __init__(self, state: ClusterState, judge: Judge, context: Context, kind: int) -> None:
        self.state, self.judge, self.context, self.kind = state, judge, context, kind
        self.known = judge.fits_of(kind)

    def __call__(self, number: int, names: set[str]) -> bool:
        found = self.known.get(number)
        if found is None:
            state = self.state
            entry, room = state.nodes[next(iter(names))], state.where[number][1]
            found = self.judge.fresh_fits(self.context, entry, self.kind, self.known, room)
        return found


def _catch_up(
    state: ClusterState, judge: Judge, asked: Asked, class_id: int, order: Order | None
) -> Order:
    """The class's usage states whose devices have room for the pod's, by expected
    fragmentation, kept in `order` per class and device request (shared by pods that differ
    in cpu or memory) while the shapes of the workload stay: listed afresh (`order` None) or
    brought up to date from the states that joined the class since `order` (those that left
    are skipped by `fitting_states`, and dropped once they may be many)."""
    context, workload = asked.context, asked.workload
    version = state.room_version.get(class_id, 0)
    shapes = asked.shapes
    members, nodes, where = state.members, state.nodes, state.where
    befores = judge.before
    request = context.demand.gpu
    wants, whole, milli = request.wants, request.whole, request.milli

    def sort_key(number: int) -> tuple[float, int]:
        if not workload:
            return (0.0, number)
        before = befores.get(number)
        if before is None:
            before = judge.fresh_before(context, nodes[next(iter(members[number]))])
        return (-before, number)

    left = state.left.get(class_id, 0)
    if order is None:
        numbers = list(_roomy(state.rooms[class_id], context))
        entries = sorted(map(sort_key, numbers))
        order = asked.orders[class_id] = Order(version, entries, set(numbers), shapes, left)
        return order
    fresh = []  # the states that joined since with room (newest first; those gone are not here)
    for number, joined in reversed(state.joined[class_id].items()):
        if joined <= order.version:
            break
        room = where[number][1]
        if number not in order.listed and not (wants and (room[0] < whole or room[1] < milli)):
            fresh.append(number)
    reshaped = order.shapes != shapes
    order.stale += left - order.left
    if order.stale > len(order.entries) // 2 + 8 or reshaped:
        # Those that left dropped (read from the few listed, not the many states there are).
        order.listed = {n for n in order.listed if n in members}
        order.entries = [e for e in order.entries if e[1] in members]
        order.stale = 0
    order.listed.update(fresh)
    if reshaped:
        # The same states have room (that depends on no workload); their fragmentation changed.
        order.entries = sorted(map(sort_key, order.listed))
        order.fitting = {}  # sorted afresh: kept anew
    else:
        for number in fresh:
            insort(order.entries, sort_key(number))
    order.version, order.shapes, order.left = version, shapes, left
    return order


def _roomy(rooms: dict[Room, set[int]], context: Context) -> Iterator[int]:
    """The usage states of a class whose devices could take the pod: the others lack devices
    (an exact verdict, `check_capacity` would say so)."""
    request = context.demand.gpu
    for room, numbers in rooms.items():
        if not request.wants or fits_room(room, request.whole, request.milli):
            yield from numbers
