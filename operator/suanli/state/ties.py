"""The first node by tie rank among a class's nodes of one total, without listing its states.

When the best total a class can reach is reached, whatever else of the class can still be best
ties with it, and the node chosen among equals is the one of least tie rank. Where most of a
class ties (a CPU pod leaves the fragmentation of most nodes as it is), reading the class's
nodes in rank order finds that node after a few, where listing every tied state reads them all.
Where few tie, the reading gives up after a budget and the caller lists the states instead.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import islice
from operator import attrgetter

from suanli.scoring.context import Context
from suanli.state.cluster import ClusterState
from suanli.state.entry import NodeEntry
from suanli.state.judge import Judge
from suanli.state.kept import ClassPart

# States judged afresh before giving up (a state judged already costs a lookup): a class whose
# ties are this hard to reach is cheaper to list. Whether a state fits costs far less than its
# packing, so it has a budget of its own.
FITS_BUDGET = 64
USAGE_BUDGET = 8

# A usage state's exact (score, total), via one of its nodes.
Exact = Callable[[int, NodeEntry], tuple[int, float]]
_RANK = attrgetter("rank")


def first_tied(
    state: ClusterState,
    judge: Judge,
    context: Context,
    *,
    class_id: int,
    capacity_kind: int,
    usage_kind: int,
    part: ClassPart,
    exact: Exact,
    top: float,
    below: tuple[float, str],
) -> tuple[bool, int | None]:
    """(True, the usage state of the class's first node by rank whose state fits the pod and
    totals `top`, if it comes before `below`, else None), or (False, None) when the budget ran
    out first. `exact` totals a state from its usage and `part`."""
    fits, usage = judge.fits_of(capacity_kind), judge.usage_of(usage_kind)
    order = state.by_rank(class_id)
    # The first nodes by rank fill up first (ties go their way): skip those that were no
    # answer last time, as far as none of them changed state since (the first place by rank
    # that changed is logged by the state). Whether a state fits and what it totals depend on
    # nothing else while the memos hold.
    key = (class_id, capacity_kind, usage_kind, part, top)
    moved = state.moves.get(class_id, 0)
    known = judge.skips.get(key)
    start = 0
    if known is not None and known[0] is order:  # the same list of the class's nodes by rank
        start = known[2]
        if start and known[1] != moved:
            start = min(start, state.moved_since(class_id, known[1]))
    read = start
    result: tuple[bool, int | None] = (True, None)
    fresh_fits = fresh_usage = 0
    where = state.where
    request = context.demand.gpu
    wants, whole, milli = request.wants, request.whole, request.milli
    # Only nodes before `below` can be the answer: where they end is found by bisection (the
    # nodes are in rank order), not by comparing each node's rank as it is read.
    for entry in islice(order, start, bisect_left(order, below, lo=start, key=_RANK)):
        number = entry.state
        fitting = fits.get(number)
        if fitting is None:
            room = where[number][1]
            if wants and (room[0] < whole or room[1] < milli):
                fitting = judge.lacks_room(fits, number)  # what `fresh_fits` says
            else:
                fresh_fits += 1
                fitting = judge.fresh_fits(context, entry, capacity_kind, fits, room)
        if fitting:
            if number not in usage:
                fresh_usage += 1
            if exact(number, entry)[1] == top:
                result = (True, number)
                break
        read += 1
        if fresh_usage > USAGE_BUDGET or fresh_fits > FITS_BUDGET:
            result = (False, None)
            break
    judge.skips[key] = (order, moved, read)  # the first `read` are no answer
    return result
