"""Time at the operator: the running jobs' timeline, the waiting jobs in order, backfill for a
job about to start, and start estimates for every waiting job (exact for the front of the line,
aggregated behind it), all read from the cached jobs and decided by `suanli.state.backfill` and
`suanli.state.aggregate` (pure) on the operator's one cluster state.

Called under the controller's decision lock, like gang admission, so a backfill decision and
the pods it creates are seen by the next decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from suanli.api import ComputeJob, Phase
from suanli.controller.cache import JobCache, JobKey
from suanli.controller.podstatus import parse_time
from suanli.controller.queues import RELEASED_PHASES, QueueBoard
from suanli.controller.quota import QUOTA_CONDITION
from suanli.controller.slots import PodSlot, slots
from suanli.queueing.runtime import RunLimits
from suanli.scoring import PodDemand
from suanli.scoring.snapshot import PlacedPod
from suanli.state.aggregate import capacity, occupants, pooled, walk
from suanli.state.backfill import backfill, estimates, plan_beside
from suanli.state.earliest import Candidate, Estimate, Holding, Planner, ends_at
from suanli.state.gang import Admission
from suanli.state.timeline import RunningJob, timeline

Demands = Callable[[ComputeJob, Mapping[str, Any], list[PodSlot]], list[PodDemand] | None]
# Estimates are made again at most this often while the waiting jobs stay the same.
ESTIMATE_EVERY_SECONDS = 2.0
# Waiting jobs estimated exactly (a timeline walk each, with their pods planned on nodes), in
# order; the jobs behind them get the aggregated walk (`suanli.state.aggregate`), all in one pass.
EXACT_ESTIMATES = 100
# The aggregated walk is made again at most this often when a job behind has no estimate yet.
TAIL_PENDING_SECONDS = 0.5
# Estimates made per decision at most (a timeline walk each).
ESTIMATES_PER_CALL = 4
_FINISHED = ("Succeeded", "Failed")


def _name(key: JobKey) -> str:
    return f"{key[0]}/{key[1]}"


@dataclass(frozen=True)
class Waiter:
    """A job that waits for room, with its place in line."""

    key: JobKey
    order: tuple[int, str, str, str]
    candidate: Candidate
    limits: RunLimits


class TimeKeeper:
    def __init__(
        self,
        *,
        cache: JobCache,
        board: QueueBoard,
        planner: Callable[[], Planner],
        demands: Demands,
        promised: Callable[[JobKey], list[PlacedPod]],
    ) -> None:
        self.cache = cache
        self.board = board
        self.planner = planner
        self.demands = demands
        self.promised = promised
        # Per waiting job, its last estimate and when it was made.
        self._made: dict[str, tuple[Estimate, dt.datetime]] = {}
        self._candidates: dict[JobKey, tuple[Any, Candidate | None]] = {}
        # The aggregated walk's last estimates, and when they were made.
        self._tail: tuple[dict[str, Estimate], dt.datetime | None] = ({}, None)

    # --- what the cache holds -------------------------------------------------------------

    def order(self, key: JobKey, body: Mapping[str, Any]) -> tuple[int, str, str, str]:
        priority = self.board.priority_of(body.get("spec") or {}) or 0
        created = str(body["metadata"].get("creationTimestamp") or "")
        return (-priority, created, key[0], key[1])

    def candidate(
        self, key: JobKey, body: Mapping[str, Any], job: ComputeJob, limits: RunLimits
    ) -> Candidate | None:
        """The job's pods as demands (remembered per generation and admitted types), with its
        run times (which change, e.g. with its queue's history, without a new generation)."""
        status = body.get("status") or {}
        admitted = tuple((status.get("admission") or {}).get("acceleratorTypes") or ())
        meta = body["metadata"]
        version = (meta.get("uid"), meta.get("generation"), admitted)
        known = self._candidates.get(key)
        if known is None or known[0] != version:
            found = self.demands(job, body, slots(job, key[1]))
            made = None
            if found is not None:
                gang = job.spec.gang
                made = Candidate(_name(key), found, gang.min_member if gang else len(found))
            known = (version, made)
            self._candidates[key] = known
        made = known[1]
        if made is None or (made.limit, made.expected) == (limits.time_limit, limits.planned):
            return made
        made = replace(made, limit=limits.time_limit, expected=limits.planned)
        self._candidates[key] = (version, made)
        return made

    def waiters(self) -> list[Waiter]:
        """Jobs queued for room (holding their quota, or in no queue), in order."""
        found: list[Waiter] = []
        for key, body in list(self.cache.jobs.items()):
            status = body.get("status") or {}
            # A job sent back to wait (gang timeout, preemption) may still show the pods it is
            # losing: it waits all the same.
            if status.get("phase") != Phase.QUEUED.value:
                continue
            quota = next(
                (c for c in status.get("conditions") or [] if c.get("type") == QUOTA_CONDITION),
                None,
            )
            if quota is not None and quota.get("status") != "True":
                continue  # waits for quota, not for room
            job = self.board.job_of(body)
            if job is None or job.spec.run_policy.suspend:
                continue
            limits = self.board.limits(job, key[0])
            made = self.candidate(key, body, job, limits)
            if made is not None:
                found.append(Waiter(key, self.order(key, body), made, limits))
        found.sort(key=lambda w: w.order)
        return found

    def running(self, now: dt.datetime, expected: bool) -> tuple[list[RunningJob], list[str]]:
        """Jobs holding bound pods and when they end (by their limit, or expected run time);
        and the jobs whose run time is a queue default. A job that finished, was deleted or
        whose pods all ended releases now: the cluster state may still hold its pods for a
        moment (its watch and the jobs' are apart)."""
        jobs: list[RunningJob] = []
        defaults: list[str] = []
        for key, pods in list(self.cache.pods.items()):
            bound = tuple(
                f"{key[0]}/{name}"
                for name, pod in pods.items()
                if (pod.get("spec") or {}).get("nodeName")
            )
            if not bound:
                continue
            body = self.cache.jobs.get(key)
            job = self.board.job_of(body) if body is not None else None
            status = (body or {}).get("status") or {}
            ended = all((p.get("status") or {}).get("phase") in _FINISHED for p in pods.values())
            if job is None or ended or status.get("phase") in RELEASED_PHASES:
                jobs.append(RunningJob(_name(key), bound, now))
                continue
            limits = self.board.limits(job, key[0])
            seconds = limits.planned if expected else limits.time_limit
            source = limits.expected_source if expected else limits.limit_source
            if source:
                defaults.append(f"{_name(key)} ({source})")
            start = parse_time(status.get("startTime")) or now
            ends = start + dt.timedelta(seconds=seconds) if seconds is not None else None
            jobs.append(RunningJob(_name(key), bound, ends))
        return jobs, defaults

    def holdings(self, now: dt.datetime, exclude: JobKey) -> list[Holding]:
        """Pods planned for other admitted jobs, not bound yet: promised until they end."""
        by_job: dict[str, list[PlacedPod]] = {}
        for pod in self.promised(exclude):
            by_job.setdefault(pod.job or pod.key, []).append(pod)
        found = []
        for name, pods in sorted(by_job.items()):
            namespace, _, job_name = name.partition("/")
            body = self.cache.jobs.get((namespace, job_name))
            job = self.board.job_of(body) if body else None
            limit = self.board.limits(job, namespace).time_limit if job else None
            ends = now + dt.timedelta(seconds=limit) if limit is not None else None
            found.append(Holding(name, tuple(pods), ends))
        return found

    # --- decisions ------------------------------------------------------------------------

    def gate(
        self,
        key: JobKey,
        body: Mapping[str, Any],
        job: Candidate,
        now: dt.datetime,
        plan_alone: Callable[[], Admission] | None,
    ) -> Admission | None:
        """Backfill for a job about to start: None (or `plan_alone`'s plan) when no job waits
        ahead of it; else its plan when it does not delay the first reservation ahead."""
        mine = self.order(key, body)
        ahead = [w.candidate for w in self.waiters() if w.key != key and w.order < mine]
        if not ahead:
            if plan_alone is not None:
                return plan_alone()
            # Pods planned for admitted jobs but not bound yet keep their room: a job without a
            # gang is then placed beside them (its pods carry their planned nodes).
            holding = self.holdings(now, exclude=key)
            return plan_beside(self.planner(), job, holding) if holding else None
        running, _ = self.running(now, expected=False)
        planner = self.planner()
        releases = timeline(planner.feed.state, running, now)
        return backfill(planner, ahead, job, releases, now, holding=self.holdings(now, exclude=key))

    def estimates(self, now: dt.datetime) -> tuple[dict[str, Estimate], list[Waiter], list[str]]:
        """Start estimates of the jobs waiting for room, in order: exact ones (planned on nodes)
        for the first EXACT_ESTIMATES, the aggregated walk's for the jobs behind them."""
        waiters = self.waiters()
        running, defaults = self.running(now, expected=True)
        found = self.exact_estimates(now, waiters, running)
        if len(waiters) > EXACT_ESTIMATES:
            found.update(self._tail_estimates(now, waiters, running, found))
        return found, waiters, defaults

    def exact_estimates(
        self, now: dt.datetime, waiters: list[Waiter], running: list[RunningJob]
    ) -> dict[str, Estimate]:
        """Exact estimates of the first EXACT_ESTIMATES waiting jobs. Each call makes at most
        ESTIMATES_PER_CALL of them: first those that have none, then those whose estimate is
        older than ESTIMATE_EVERY_SECONDS, each in order; the others keep theirs. Waiting jobs
        are reconciled whenever capacity frees and on every resync, so all are soon up to date
        while no single decision waits for hundreds of timeline walks."""
        counted = [w.candidate for w in waiters[:EXACT_ESTIMATES]]
        made = self._made
        missing = [c.job for c in counted if c.job not in made]
        old = [
            c.job
            for c in counted
            if c.job in made and (now - made[c.job][1]).total_seconds() >= ESTIMATE_EVERY_SECONDS
        ]
        if not missing and not old:
            return {c.job: made[c.job][0] for c in counted}
        # A job that just started waiting is estimated before older estimates are renewed.
        renew = set((missing + old)[:ESTIMATES_PER_CALL])
        known = {c.job: made[c.job][0] for c in counted if c.job in made and c.job not in renew}
        planner = self.planner()
        releases = timeline(planner.feed.state, running, now)
        holding = self.holdings(now, exclude=("", ""))
        found = estimates(planner, counted, releases, now, holding, known=known, budget=len(renew))
        self._made = {
            job: (estimate, now if job in renew or job not in made else made[job][1])
            for job, estimate in found.items()
        }
        return found

    def _tail_estimates(
        self,
        now: dt.datetime,
        waiters: list[Waiter],
        running: list[RunningJob],
        head: Mapping[str, Estimate],
    ) -> dict[str, Estimate]:
        """The aggregated walk's estimates of the jobs behind the first EXACT_ESTIMATES, made
        again every ESTIMATE_EVERY_SECONDS, or after TAIL_PENDING_SECONDS when a job there has
        none yet (a burst of new jobs then costs a walk per that interval, not per job)."""
        tail = waiters[EXACT_ESTIMATES:]
        made, at = self._tail
        age = (now - at).total_seconds() if at is not None else None
        pending = any(w.candidate.job not in made for w in tail)
        due = (
            age is None
            or age >= ESTIMATE_EVERY_SECONDS
            or (pending and age >= TAIL_PENDING_SECONDS)
        )
        if due:
            planner = self.planner()
            state = planner.feed.state
            releases = timeline(state, running, now)
            holding = self.holdings(now, exclude=("", ""))
            for waiter in waiters[:EXACT_ESTIMATES]:
                estimate = head.get(waiter.candidate.job)
                if estimate is not None and estimate.start is not None:
                    ends = ends_at(estimate.start, waiter.limits.planned)
                    holding.append(Holding(estimate.job, estimate.placed, ends))
            pools = capacity(state)
            line = [pooled(w.candidate, pools, planner.catalog) for w in tail]
            made = walk(pools, occupants(state, releases, holding), line, now)
            self._tail = (made, now)
        return {w.candidate.job: made[w.candidate.job] for w in tail if w.candidate.job in made}

    @property
    def walked_at(self) -> dt.datetime | None:
        """When the aggregated walk was last made (None: never)."""
        return self._tail[1]

    def forget(self, key: JobKey) -> None:
        self._candidates.pop(key, None)
