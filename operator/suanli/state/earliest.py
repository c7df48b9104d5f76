"""When a waiting job could start: the first moment of the timeline of releases at which it
fits, as what-ifs on the one cluster state (pods of released jobs removed, the job planned, all
rolled back), and what such a search reads and returns. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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


def hold(planner: Planner, holding: Sequence[Holding]) -> None:
    """The promised pods placed on the state (in the caller's trial): they hold their nodes."""
    state = planner.feed.state
    for held in holding:
        for pod in held.placed:
            state.set_pod(pod.key, pod)


def with_promised(releases: Sequence[Release], holding: Sequence[Holding]) -> list[Release]:
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
    events = with_promised(releases, holding)
    first = max(now, not_before) if not_before is not None else now
    times = [first, *(m for m in moments(events) if m > first)]
    step = max(1, -(-len(times) // MAX_PROBES))
    probes = {0, len(times) - 1, *range(step - 1, len(times), step)}
    with state.what_if():
        if not held:
            hold(planner, holding)
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
