"""Reservations, backfill and start-time estimates, as what-ifs on the one cluster state. Pure.

EASY backfill (docs/time.md says why this one):

1. Waiting jobs are taken in order (priority, then age). Those that fit now are counted as
   starting (they will, when reconciled). The first that does not fit now gets a
   **reservation**: the earliest moment of the timeline at which it fits, once the jobs that
   release before then have released, and the nodes it would take then.
2. A job behind it may start now only if it does not delay that reservation: it ends before the
   reserved start by its time limit, or, placed where it would go now, the reserved job still
   fits at its reserved start.
3. **Estimates** for every waiting job: in order, each is planned at the earliest moment it
   fits, with the jobs before it holding the nodes of their own estimate from now until their
   estimated end (so an estimate never counts on room promised to a job ahead).

Every trial is a `what_if` on the state: pods of released jobs are removed, planned pods placed,
and everything is rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from suanli.scoring import (
    BASELINE_POLICY,
    Catalog,
    DataPolicy,
    LatencyMap,
    NodeResult,
    PodDemand,
)
from suanli.scoring.snapshot import PlacedPod
from suanli.state.feed import ClusterFeed
from suanli.state.gang import Admission, plan_gang
from suanli.state.timeline import Release, moments

BEHIND_RESERVATION = "BehindReservation"


@dataclass(frozen=True)
class Candidate:
    """A job that waits for room: its pods, and how long it runs (seconds; None: unknown)."""

    job: str  # `namespace/name`
    demands: Sequence[PodDemand]
    min_member: int
    limit: float | None = None  # the time limit: what backfill counts on
    expected: float | None = None  # what estimates count on


@dataclass(frozen=True)
class Holding:
    """Pods promised to a job that is not bound (yet): they hold their nodes until `ends`."""

    job: str
    placed: tuple[PlacedPod, ...]
    ends: dt.datetime | None


@dataclass(frozen=True)
class Estimate:
    """When a job is expected to start (None: not within the timeline) and where."""

    job: str
    start: dt.datetime | None
    plan: dict[str, str] = field(default_factory=dict)  # pod name -> node
    waits_for: tuple[str, ...] = ()  # jobs that must end first, in the order they end
    placed: tuple[PlacedPod, ...] = ()
    reason: str = ""  # why it does not fit, when start is None
    results: tuple[NodeResult, ...] = ()  # the chosen nodes' scores, per planned pod
    # From the aggregated walk (`suanli.state.aggregate`): requests added up, no nodes planned.
    aggregated: bool = False


@dataclass(frozen=True)
class Planner:
    """What a plan is decided with: the state and the scoring files."""

    feed: ClusterFeed
    catalog: Catalog
    latency: LatencyMap
    data_policy: DataPolicy = BASELINE_POLICY

    def plan(self, job: Candidate) -> Admission:
        return plan_gang(
            self.feed,
            job.demands,
            job.min_member,
            catalog=self.catalog,
            latency=self.latency,
            data_policy=self.data_policy,
        )


def _hold(planner: Planner, holding: Sequence[Holding]) -> None:
    state = planner.feed.state
    for held in holding:
        for pod in held.placed:
            state.set_pod(pod.key, pod)


def _released(releases: Sequence[Release], holding: Sequence[Holding]) -> list[Release]:
    """The timeline with the promised pods' ends added."""
    extra = [
        Release(h.ends, h.job, tuple(p.key for p in h.placed), tuple(p.node for p in h.placed))
        for h in holding
        if h.ends is not None and h.placed
    ]
    return sorted([*releases, *extra], key=lambda r: (r.at, r.job))


def earliest_start(
    planner: Planner,
    job: Candidate,
    releases: Sequence[Release],
    now: dt.datetime,
    holding: Sequence[Holding] = (),
    *,
    not_before: dt.datetime | None = None,
    held: bool = False,
) -> Estimate:
    """The first moment (now or `not_before`, or a release after it) at which the job fits,
    and its plan then. With many releases the job is planned at MAX_PROBES evenly spaced
    moments, then at the moments between the last two by bisection (room only grows as jobs
    release, so the first fit is found all the same). `held`: the holding's pods are on the
    state already (placed by the caller's trial)."""
    state = planner.feed.state
    events = _released(releases, holding)
    first = max(now, not_before) if not_before is not None else now
    times = [first, *(m for m in moments(events) if m > first)]
    step = max(1, -(-len(times) // MAX_PROBES))
    probes = {0, len(times) - 1, *range(step - 1, len(times), step)}
    with state.what_if():
        if not held:
            _hold(planner, holding)
        gone: list[str] = []
        taken: list[list[tuple[str, PlacedPod]]] = []  # per moment, the pods released then
        last = -1  # the last moment planned without a fit
        admission: Admission | None = None
        cursor = 0  # events are in time order: each is released once
        for index, moment in enumerate(times):
            taken.append([])
            while cursor < len(events) and events[cursor].at <= moment:
                release = events[cursor]
                cursor += 1
                for key in release.pods:
                    if (pod := state.pods.get(key)) is not None:
                        taken[index].append((key, pod))
                    state.set_pod(key, None)
                gone.append(release.job)
            if index not in probes:
                continue
            admission = planner.plan(job)
            if admission.admitted:
                found, admission = _bisect(planner, job, taken, last, index, fits=admission)
                return Estimate(
                    job.job,
                    times[found],
                    admission.plan,
                    tuple(gone[: _released_by(events, times[found], gone)]),
                    admission.placed,
                    results=admission.results,
                )
            last = index
        reason = admission.reason if admission is not None else ""
        return Estimate(job.job, None, {}, tuple(gone), (), reason)


MAX_PROBES = 24


def _released_by(events: Sequence[Release], moment: dt.datetime, gone: Sequence[str]) -> int:
    """How many of the jobs released in order (`gone`) had released by `moment`."""
    ends = {r.job: r.at for r in events}
    return sum(1 for job in gone if ends.get(job, moment) <= moment)


def _bisect(
    planner: Planner,
    job: Candidate,
    taken: Sequence[Sequence[tuple[str, PlacedPod]]],
    low: int,
    high: int,
    *,
    fits: Admission,
) -> tuple[int, Admission]:
    """The first moment in (low, high] at which the job fits (it does at `high`, the moment
    the state stands at): the pods released after a tried moment are put back for the trial."""
    state = planner.feed.state
    top = high
    while high - low > 1:
        middle = (low + high) // 2
        with state.what_if():
            for later in taken[middle + 1 : top + 1]:
                for key, pod in later:
                    state.set_pod(key, pod)
            trial = planner.plan(job)
        if trial.admitted:
            high, fits = middle, trial
        else:
            low = middle
    return high, fits


def ends_at(start: dt.datetime, seconds: float | None) -> dt.datetime | None:
    return start + dt.timedelta(seconds=seconds) if seconds is not None else None


@dataclass(frozen=True)
class Reservation:
    """The first waiting job that cannot start now, and when and where it will."""

    head: Candidate
    estimate: Estimate
    # The jobs ahead of it that fit now, counted as starting (holding their plan).
    starting: tuple[Holding, ...] = ()


def reservation(
    planner: Planner,
    ahead: Sequence[Candidate],
    releases: Sequence[Release],
    now: dt.datetime,
    holding: Sequence[Holding] = (),
) -> tuple[Reservation | None, tuple[Holding, ...]]:
    """The reservation among `ahead` (in order), and what is promised before it: `holding`
    plus the jobs ahead of the reserved one that fit now. The promised pods are placed once,
    in one trial, as each is promised: placed again for every job after them, a long line of
    jobs that fit now (admitted together, not reconciled yet) cost the square of its length."""
    promised = list(holding)
    with planner.feed.state.what_if():
        _hold(planner, promised)
        for job in ahead:
            estimate = earliest_start(planner, job, releases, now, promised, held=True)
            if estimate.start is None:
                continue  # no moment of the timeline fits it: nothing to reserve
            if estimate.start <= now:
                starting = Holding(job.job, estimate.placed, ends_at(now, job.limit))
                promised.append(starting)
                _hold(planner, [starting])
                continue
            return Reservation(job, estimate, tuple(promised)), tuple(promised)
    return None, tuple(promised)


def plan_beside(planner: Planner, job: Candidate, holding: Sequence[Holding]) -> Admission:
    """The job's plan now, leaving the promised pods their room."""
    with planner.feed.state.what_if():
        _hold(planner, holding)
        return planner.plan(job)


def backfill(
    planner: Planner,
    ahead: Sequence[Candidate],
    job: Candidate,
    releases: Sequence[Release],
    now: dt.datetime,
    *,
    holding: Sequence[Holding] = (),
) -> Admission:
    """May `job` start now, with the waiting jobs `ahead` of it (in order)? Its plan, or why
    not: it does not fit now, or it would delay the reservation of the first job ahead that
    cannot start now."""
    reserved, promised = reservation(planner, ahead, releases, now, holding)
    return admit_behind(planner, reserved, job, releases, now, promised=promised)


def admit_behind(
    planner: Planner,
    reserved: Reservation | None,
    job: Candidate,
    releases: Sequence[Release],
    now: dt.datetime,
    *,
    promised: Sequence[Holding] = (),
) -> Admission:
    """The backfill rule for one job behind a reservation (None: no reservation): its plan now
    if it ends before the reserved start by its limit, or if the reserved job still fits then
    with it placed; else why not."""
    state = planner.feed.state
    admission = plan_beside(planner, job, promised)
    if not admission.admitted or reserved is None:
        return admission
    head, estimate = reserved.head, reserved.estimate
    assert estimate.start is not None  # a reservation has a start
    ends = ends_at(now, job.limit)
    if ends is not None and ends <= estimate.start:
        return admission
    events = _released(releases, promised)
    with state.what_if():
        _hold(planner, promised)
        for placed in admission.placed:
            state.set_pod(placed.key, placed)
        for release in events:
            if release.at > estimate.start:
                break
            for key in release.pods:
                state.set_pod(key, None)
        if planner.plan(head).admitted:
            return admission
    until = f"ends by {ends:%H:%M:%S} UTC" if ends is not None else "has no time limit"
    nodes = ", ".join(sorted(set(estimate.plan.values())))
    reason = (
        f"{head.job} is reserved to start at {estimate.start:%Y-%m-%dT%H:%M:%SZ} on {nodes}; "
        f"this job {until} and would take room it needs (backfill lets a job ahead only if it "
        "ends before that or leaves that room free)"
    )
    return Admission(
        admission.plan, False, reason, admission.placed, BEHIND_RESERVATION, admission.results
    )


def estimates(
    planner: Planner,
    waiting: Sequence[Candidate],
    releases: Sequence[Release],
    now: dt.datetime,
    holding: Sequence[Holding] = (),
    *,
    known: Mapping[str, Estimate] | None = None,
    budget: int | None = None,
) -> dict[str, Estimate]:
    """A start estimate for every waiting job (in order), each after the ones before it.
    Jobs in `known` keep that estimate; at most `budget` others are made (the first ones, in
    order), and the rest are left out."""
    promised = list(holding)
    found: dict[str, Estimate] = {}
    made = 0
    for job in waiting:
        estimate = (known or {}).get(job.job)
        if estimate is None:
            if budget is not None and made >= budget:
                continue
            made += 1
            estimate = earliest_start(planner, job, releases, now, promised)
        found[job.job] = estimate
        if estimate.start is not None:
            runs = job.expected if job.expected is not None else job.limit
            promised.append(Holding(job.job, estimate.placed, ends_at(estimate.start, runs)))
    return found


def never_fits(planner: Planner, job: Candidate) -> str | None:
    """Why the job would not fit even on the empty cluster (None: it would)."""
    state = planner.feed.state
    with state.what_if():
        for key in list(state.pods):
            state.set_pod(key, None)
        admission = planner.plan(job)
    return None if admission.admitted else admission.reason
