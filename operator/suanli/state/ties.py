"""The first node by tie rank among a class's nodes of one total, without listing its states.

When the best total a class can reach is reached, whatever else of the class can still be best
ties with it, and the node chosen among equals is the one of least tie rank. Where most of a
class ties (a CPU pod leaves the fragmentation of most nodes as it is), reading the class's
nodes in rank order finds that node after a few, where listing every tied state reads them all.
Where few tie, the reading gives up after a budget and the caller lists the states instead.
"""

from __future__ import annotations

from collections.abc import Callable

from suanli.scoring.context import Context
from suanli.state.cluster import ClusterState, NodeEntry
from suanli.state.judge import Judge

# Nodes judged afresh before giving up (nodes whose state was judged already cost a lookup): a
# class whose ties are this hard to reach is cheaper to list.
BUDGET = 8

Exact = Callable[[int, NodeEntry], float]  # a usage state's exact total (via one of its nodes)


def first_tied(
    state: ClusterState,
    judge: Judge,
    context: Context,
    *,
    class_id: int,
    capacity_kind: int,
    usage_kind: int,
    exact: Exact,
    top: float,
    below: tuple[int, str],
) -> tuple[bool, int | None]:
    """(True, the usage state of the class's first node by rank whose state fits the pod and
    totals `top`, if it comes before `below`, else None), or (False, None) when the budget ran
    out first."""
    fits, usage = judge.fits_of(capacity_kind), judge.usage_of(usage_kind)
    fresh = 0
    for entry in state.by_rank(class_id):
        if entry.rank >= below:
            return True, None
        number = entry.state
        fitting = fits.get(number)
        if fitting is None:
            fresh += 1
            room = state.room_of_state(number)
            fitting = judge.fresh_fits(context, entry, capacity_kind, fits, room)
        if not fitting:
            continue
        if number not in usage:
            fresh += 1
        if exact(number, entry) == top:
            return True, number
        if fresh > BUDGET:
            return False, None
    return True, None
