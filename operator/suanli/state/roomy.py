"""A class's usage states whose devices have room for a pod's, by expected fragmentation, kept
between decisions per class and device request and brought up to date from the states that
joined the class since, rather than listed afresh (`suanli.state.scan` reads them)."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterator

from suanli.scoring.context import Context
from suanli.state.cluster import ClusterState, Room, fits_room
from suanli.state.judge import Judge
from suanli.state.kept import Order


def roomy_states(
    state: ClusterState, judge: Judge, context: Context, class_id: int
) -> list[tuple[float, int]]:
    """The class's usage states whose devices have room for the pod's, by expected
    fragmentation, most first (all alike without a workload): the states that can take the pod
    are those of them with its cpu, memory and a pod slot, which the reader checks per capacity
    kind. Kept per class and device request (shared by pods that differ in cpu or memory) while
    the shapes of the workload stay, and brought up to date from the states that joined the
    class since (those that left are skipped by the reader, and dropped once they may be
    many)."""
    workload = bool(context.workload)
    request = context.demand.gpu
    order = judge.orders.get((class_id, request.whole, request.milli, workload))
    if (
        order is not None
        and order.version == state.room_version.get(class_id, 0)
        and order.shapes == (judge.shapes_seen if workload else 0)
    ):
        return order.entries
    # Apart from the check above: its variables are not closed over (made on every call).
    return _catch_up(state, judge, context, class_id, order)


def _catch_up(
    state: ClusterState, judge: Judge, context: Context, class_id: int, order: Order | None
) -> list[tuple[float, int]]:
    """`roomy_states` when the class or the shapes changed since `order` (None: never
    listed)."""
    workload = bool(context.workload)
    version = state.room_version.get(class_id, 0)
    shapes = judge.shapes_seen if workload else 0
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
        judge.orders[class_id, whole, milli, workload] = Order(
            version, entries, set(numbers), shapes, left
        )
        return entries
    fresh = []  # the states that joined since with room (newest first; those gone are not here)
    for number, joined in reversed(state.joined[class_id].items()):
        if joined <= order.version:
            break
        room = where[number][1]
        if number not in order.listed and not (wants and (room[0] < whole or room[1] < milli)):
            fresh.append(number)
    order.stale += left - order.left
    if order.stale > len(order.entries) // 2 + 8 or order.shapes != shapes:
        # Those that left dropped (read from the few listed, not the many states there are).
        order.listed = {n for n in order.listed if n in members}
        order.entries = [e for e in order.entries if e[1] in members]
        order.stale = 0
    order.listed.update(fresh)
    if order.shapes != shapes:
        # The same states have room (that depends on no workload); their fragmentation changed.
        order.entries = sorted(map(sort_key, order.listed))
    else:
        for number in fresh:
            insort(order.entries, sort_key(number))
    order.version, order.shapes, order.left = version, shapes, left
    return order.entries


def _roomy(rooms: dict[Room, set[int]], context: Context) -> Iterator[int]:
    """The usage states of a class whose devices could take the pod: the others lack devices
    (an exact verdict, `check_capacity` would say so)."""
    request = context.demand.gpu
    for room, numbers in rooms.items():
        if not request.wants or fits_room(room, request.whole, request.milli):
            yield from numbers
