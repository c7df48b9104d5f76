"""What a node class and a usage state answer for a pod kind, remembered across decisions.

Everything here is keyed by things that stay valid while the catalog, the latency map, the data
policy, the configuration, the state's numbering and (for packing) the workload's shapes stay the
same; `start` drops what no longer holds. Values are computed with the reference scorers and
filters, so a remembered answer is the answer `evaluate` would give.
"""

from __future__ import annotations

from collections.abc import Hashable
from operator import is_

from suanli.scoring import (
    Catalog,
    LatencyMap,
    PodDemand,
    ScoringConfig,
    Verdict,
    Workload,
)
from suanli.scoring.capacity import capacity_wants, check_capacity
from suanli.scoring.combine import weight_pairs, weights_of
from suanli.scoring.context import Context
from suanli.scoring.datapolicy import DataPolicy
from suanli.scoring.filters import check_hard
from suanli.scoring.resources import PODS
from suanli.scoring.scorers import SCORERS, USAGE_SIGNALS
from suanli.scoring.scorers.packing import reservation_on
from suanli.state.entry import NodeEntry, Room, fits_room
from suanli.state.kept import Allowed, ClassPart, Order, Reason
from suanli.state.totals import Total
from suanli.state.usage_memo import UsageMemo

_STATIC = tuple((name, scorer) for name, scorer in SCORERS if name not in USAGE_SIGNALS)
# The total is the facts-only part plus packing; that is the reference's float only when packing
# is the one usage signal and is summed last.
if {"packing"} != USAGE_SIGNALS or SCORERS[-1][0] != "packing":
    raise ImportError("the decider needs packing as the one usage signal, summed last")
# Memo entries kept before a memo starts over (a long-lived extender sees ever new pod kinds).
_MEMO_LIMIT = 100_000
_SIZE_EVERY = 32  # decisions between two looks at the memos' sizes
_DEMANDS_KEPT = 4096  # demand objects whose kinds are remembered (each held while remembered)


_UNKNOWN = object()  # a failed verdict as a group keeps it: outcome, node-agnostic text


def reason_of(verdict: Verdict | None) -> Reason | None:
    return None if verdict is None else (verdict.outcome, verdict.category or verdict.reason)


def _same(these: tuple[object, ...], those: tuple[object, ...]) -> bool:
    """The very same objects (identity, not equality: cheap, and safe for memo validity)."""
    # map() over `is_`, not a generator: asked twice before every decision.
    return len(these) == len(those) and all(map(is_, these, those))


class Judge(UsageMemo):
    """What node classes and usage states answer for pod kinds (the packing part:
    `UsageMemo`), and when that stops holding."""

    __slots__ = (
        "_capacity",
        "_demands",
        "_epoch",
        "_fits",
        "_fits_sized",
        "_hard",
        "_kinds",
        "_shapes",
        "_until_sized",
        "_valid_for",
        "_wants",
        "allowed",
        "evaluated",
        "nowhere",
        "orders",
        "shapes_seen",
        "skips",
    )

    def __init__(self) -> None:
        UsageMemo.__init__(self)
        self._valid_for: tuple[object, ...] = ()
        self._epoch = -1
        self._shapes: tuple[object, ...] = ()
        self._kinds: dict[Hashable, int] = {}
        # (id of a demand, with a workload) -> the demand, its kinds and total: a replay asks
        # for the same demand objects again and again, and hashing one is not cheap.
        self._demands: dict[tuple[int, bool], tuple[PodDemand, tuple[int, int, Total]]] = {}
        self._hard: dict[Hashable, tuple[Reason | None, float]] = {}
        # (pod kind, peers' domains) -> (classes version of the state, the classes allowed
        # with what `_hard` says of them): see `suanli.state.classes`.
        self.allowed: dict[tuple[int, Hashable], Allowed] = {}
        self._capacity: dict[Hashable, Reason | None] = {}
        # Per kind, then per usage state id: one small dict read per state in the hot loops,
        # no key tuple built per lookup.
        self._fits: dict[int, dict[int, bool]] = {}  # capacity kind -> state -> fits now
        self._wants: dict[int, tuple[tuple[str, int], ...]] = {}  # capacity kind -> needs
        # (class, capacity kind, usage kind, class part, total) -> how many of the class's
        # first nodes by tie rank have a state that does not fit with that total: while those
        # nodes keep those states (and the memos hold), a reader skips them.
        # (With the class's nodes by rank and its moves then, `suanli.state.ties`.)
        self.skips: dict[
            tuple[int, int, int, ClassPart, float], tuple[list[NodeEntry], int, int]
        ] = {}
        self._fits_sized = 0  # states remembered in _fits
        self._until_sized = 1  # decisions until the memos' sizes are looked at
        # (whole devices, share, with a workload) -> class -> the states with room for such a
        # request, by expected fragmentation, most first
        self.orders: dict[tuple[int, int, bool], dict[int, Order]] = {}
        # (pod kind, capacity kind, peers' domains) -> the state's `freed` when no node could
        # take such a pod: while it holds, none can (placements only take room).
        self.nowhere: dict[tuple[int, int, Hashable], int] = {}
        self.shapes_seen = 0  # workloads of new shapes met: the orders are sorted for one
        self.evaluated = 0  # usage states judged afresh, for benchmarks

    def start(
        self,
        catalog: Catalog,
        latency: LatencyMap,
        config: ScoringConfig,
        epoch: int,
        workload: Workload,
        *,
        data_policy: DataPolicy,
    ) -> None:
        """Before a decision: forget what the inputs that changed invalidate."""
        valid_for = (catalog, latency, config, data_policy)
        if (
            not _same(valid_for, self._valid_for)
            or epoch != self._epoch
            or len(self._kinds) > _MEMO_LIMIT
        ):
            self._valid_for, self._epoch = valid_for, epoch
            self._forget_kinds()
            self._forget_states()
        shapes = (workload.shapes, workload.weights)
        if workload and not _same(shapes, self._shapes):
            self._shapes = shapes
            self.forget_shapes()
            self.skips.clear()  # they say which totals states have
            self.shapes_seen += 1  # the orders keep which states have room, and sort them again
        # The memos' sizes are looked at every so many decisions: each adds a few entries.
        self._until_sized -= 1
        if self._until_sized > 0:
            return
        self._until_sized = _SIZE_EVERY
        kept = (len(self._hard), len(self._capacity), len(self.skips), self._fits_sized)
        if max(*kept, self.usage_sized) > _MEMO_LIMIT:
            self._forget_kinds()
        if self.states_kept() > _MEMO_LIMIT:
            self._forget_states()

    def _forget_kinds(self) -> None:
        """Everything kept per pod kind (kind ids start over)."""
        self._kinds.clear()
        self.nowhere.clear()
        self._demands.clear()
        self._hard.clear()
        self.allowed.clear()
        self._capacity.clear()
        self._fits.clear()
        self._wants.clear()
        self.skips.clear()
        self._fits_sized = 0
        self.forget_usage()
        self.orders.clear()

    def _forget_states(self) -> None:
        """Everything kept per node state (fragmentation, plans, the orders they sort)."""
        self.forget_node_states()
        self.orders.clear()

    def kind_id(self, kind: Hashable) -> int:
        """A small int per pod kind, so memo keys hash and compare cheaply."""
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = len(self._kinds)
        return found

    def kinds(self, context: Context) -> tuple[int, int, Total]:
        """The pod kind (for facts and packing), its capacity kind, and how its totals are
        summed, remembered per demand object while the kinds are."""
        demand = context.demand
        key = (id(demand), bool(context.workload))
        known = self._demands.get(key)
        if known is not None and known[0] is demand:
            return known[1]
        if len(self._demands) >= _DEMANDS_KEPT:
            self._demands.clear()  # a live extender's demands are new objects every time
        found = (
            self.kind_id((*demand.judged_by, key[1])),
            self.kind_id((demand.requests, demand.gpu_milli)),
            Total(*weight_pairs(weights_of(demand))),
        )
        self._demands[key] = (demand, found)
        return found

    def class_part(
        self,
        context: Context,
        entry: NodeEntry,
        key: Hashable,
        pairs: tuple[tuple[float, str], ...],
    ) -> ClassPart:
        """Hard requirements and the sum of the facts-only signals for the node's class
        (remembered), and the typed capacity the pod would take there (this decision)."""
        memo = self._hard.get(key)
        if memo is None:
            snapshot = entry.snapshot()
            failure = check_hard(context, snapshot)
            partial = 0.0
            if failure is None:
                values = {name: scorer(context, snapshot).value for name, scorer in _STATIC}
                for weight, name in pairs:
                    if name in values:
                        partial += weight * values[name]
            memo = self._hard[key] = (reason_of(failure), partial)
        reserved = reservation_on(context, entry.facts) if context.workload else 0.0
        return ClassPart(memo[0], memo[1], reserved)

    def lack(self, context: Context, entry: NodeEntry, capacity_kind: int) -> Reason | None:
        """What the node's usage state lacks for the pod right now (None: it fits)."""
        key = (capacity_kind, entry.state)
        if key in self._capacity:
            return self._capacity[key]
        self.evaluated += 1
        found = self._capacity[key] = reason_of(check_capacity(context, entry.snapshot()))
        return found

    def fits_of(self, capacity_kind: int) -> dict[int, bool]:
        """State -> whether it fits, as far as judged, for one capacity kind."""
        known = self._fits.get(capacity_kind)
        if known is None:
            known = self._fits[capacity_kind] = {}
        return known

    def fresh_fits(
        self,
        context: Context,
        entry: NodeEntry,
        capacity_kind: int,
        known: dict[int, bool],
        room: Room,
    ) -> bool:
        """Whether the node's usage state can take the pod now (as `lack` is None), remembered
        in `known`. Devices without the room for the request settle it unjudged and unkept here
        (an exact verdict, `check_capacity` would say they lack devices); the tie reader, which
        meets the same states again and again, keeps that verdict with `lacks_room`."""
        request = context.demand.gpu
        if request.wants and not fits_room(room, request.whole, request.milli):
            return False
        reason = self._capacity.get((capacity_kind, entry.state), _UNKNOWN)
        if reason is _UNKNOWN:
            self.evaluated += 1
            wants = self._wants.get(capacity_kind)
            if wants is None:
                wants = self._wants[capacity_kind] = capacity_wants(context)
            # The room settled the devices: what `candidates` finds is what it holds. The rest
            # is `fits_now(..., devices=False)`, read from the entry (no snapshot, no calls).
            allocatable, requested = entry.facts.allocatable, entry.requested
            found = True
            for resource, want in wants:
                used = entry.pod_count if resource == PODS else requested.amount(resource)
                if allocatable.amount(resource) - used < want:
                    found = False
                    break
        else:
            found = reason is None
        known[entry.state] = found
        self._fits_sized += 1
        return found

    def lacks_room(self, known: dict[int, bool], state: int) -> bool:
        """A usage state whose devices lack room for a pod kind's: kept in `known` as not
        fitting (a reader that meets it again skips it at once). Always False."""
        known[state] = False
        self._fits_sized += 1
        return False
