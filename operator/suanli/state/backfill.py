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
and everything is rolled back. The search for a job's earliest start is
`suanli.state.earliest`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suanli.state.earliest import (
    Candidate,
    Estimate,
    Holding,
    Planner,
    earliest_start,
    ends_at,
    hold,
    with_promised,
)
from suanli.state.gang import Admission
from suanli.state.timeline import Release

BEHIND_RESERVATION = "BehindReservation"


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
        hold(planner, promised)
        for job in ahead:
            estimate = earliest_start(planner, job, releases, now, promised, held=True)
            if estimate.start is None:
                continue  # no moment of the timeline fits it: nothing to reserve
            if estimate.start <= now:
                starting = Holding(job.job, estimate.placed, ends_at(now, job.limit))
                promised.append(starting)
                hold(planner, [starting])
                continue
            return Reservation(job, estimate, tuple(promised)), tuple(promised)
    return None, tuple(promised)


def plan_beside(planner: Planner, job: Candidate, holding: Sequence[Holding]) -> Admission:
    """The job's plan now, leaving the promised pods their room."""
    with planner.feed.state.what_if():
        hold(planner, holding)
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
    events = with_promised(releases, promised)
    with state.what_if():
        hold(planner, promised)
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
