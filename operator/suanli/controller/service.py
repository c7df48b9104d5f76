"""Reconciling one ComputeJob: read the cached job and pods, run the pure lifecycle, apply the
actions through the store. One worker serialises admissions, so two gangs are never admitted
onto the same free capacity.

The work queue that drives reconciles is `suanli.controller.jobloop`; applying a decision (pods,
status, events) is `suanli.controller.writes`; here is the decision and the facts it reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from suanli.api import ComputeJob
from suanli.api.errors import field_errors
from suanli.configfiles import ScoringConfigFiles
from suanli.controller import edge
from suanli.controller.actions import Actions, Observed
from suanli.controller.admission import Admission, plan_gang
from suanli.controller.budgets import BudgetKeeper
from suanli.controller.cache import JobCache, JobKey, job_key
from suanli.controller.estimates import PENDING, estimated_status
from suanli.controller.facts import ClusterFacts
from suanli.controller.gauges import export_gauges
from suanli.controller.jobpods import JobPods
from suanli.controller.lifecycle import reconcile
from suanli.controller.queues import QueueBoard, held_charge
from suanli.controller.quota import QuotaHeld, QuotaVerdict
from suanli.controller.quota_gate import ACCOUNTING_SECONDS, QuotaGate
from suanli.controller.replan import planned_room_gone
from suanli.controller.slots import PodSlot
from suanli.controller.store import JobStore
from suanli.controller.timekeeper import ESTIMATE_EVERY_SECONDS, TimeKeeper
from suanli.controller.writes import POD_CREATES_AT_ONCE, EventPoster, JobWrites, status_of
from suanli.metrics import OperatorMetrics
from suanli.scoring import DemandError
from suanli.state import ClusterFeed
from suanli.state.earliest import Candidate, Planner

log = logging.getLogger(__name__)


class JobController(JobWrites):
    def __init__(
        self,
        *,
        store: JobStore,
        cluster: ClusterFeed,
        config_files: ScoringConfigFiles,
        metrics: OperatorMetrics,
        post_event: EventPoster,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        edge_tolerations: Sequence[dict[str, str]] = edge.DEFAULTS,
    ) -> None:
        super().__init__(cache=JobCache(), metrics=metrics)
        self.pods_of = JobPods(config_files, cluster, edge_tolerations)
        self.store = store
        self.cluster = cluster
        self.config_files = config_files
        self.post_event = post_event
        self.clock = clock
        # Decisions that read what other jobs hold (queues, gang plans) are taken one at a time;
        # the writes that follow them run concurrently.
        self._deciding = asyncio.Lock()
        self._verified = set()
        self._creating = asyncio.Semaphore(POD_CREATES_AT_ONCE)
        self._overruled = {}
        self.facts = ClusterFacts(cluster, config_files, self.cache)
        self.queues = QueueBoard()
        self.gate = QuotaGate(
            board=self.queues,
            jobs=self.cache.jobs,
            pods=self.cache.pods,
            patch_job_status=self._patch_status,
            patch_queue_status=self._patch_queue_status,
            post_event=post_event,
            enqueue=self.enqueue,
            delete_pods=self._delete_pods,
            preempted=lambda queue, reason: self.metrics.preemptions.labels(queue, reason).inc(),
            overruled=self._overrule,
        )
        self.budgets = BudgetKeeper(self.gate)
        self.time = TimeKeeper(
            cache=self.cache,
            board=self.queues,
            planner=self._planner,
            demands=self.pods_of.readable_demands,
            promised=self.facts.reserved,
        )

    def job_news(self, kind: str | None, body: Mapping[str, Any]) -> None:
        """What the ComputeJob watch reports (kind None: kopf's first listing)."""
        echo = kind == "MODIFIED" and self.cache.holds(body)
        key = self.cache.put_job(body, deleted=kind == "DELETED")
        if kind == "ADDED":
            # ADDED is a creation seen while leading (the first listing has no kind).
            self.watched_creation(key)
        if kind != "DELETED":
            if not echo:
                self.enqueue(key)
            return
        self.forget(key)
        if self.queues.active:
            self.enqueue_waiting()  # its quota is free

    def forget(self, key: JobKey) -> None:
        """A deleted job: drop what was remembered of it (parsed spec, demands)."""
        self.queues.forget(key)
        self.time.forget(key)

    async def keep_budgets(self, every: float = ACCOUNTING_SECONDS) -> None:
        """Charge budgeted queues for what runs, on the accounting interval."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.budgets.account(self.clock())
            except Exception:
                log.exception("charging queue budgets failed; trying again next interval")

    # --- one job -----------------------------------------------------------------------------

    async def reconcile(self, key: JobKey) -> None:
        if key not in self.cache.jobs:
            self._verified.discard(key)
            return
        if key not in self._verified:
            await self._verify_pods(key)
        async with self._deciding:
            body = self.cache.jobs.get(key) or {}
            held = held_charge(body.get("status") or {}) is not None
            decided = await self._decide(key)
            seen = self._overruled.get(key, 0)
            if decided is not None and held and held_charge(decided[1]["status"]) is None:
                # The job gives its quota back: written before the next decision may hand the
                # quota to another job, so no moment shows both holding it (that job's
                # admission could reach the apiserver first, or alone if this process stops).
                await self._apply(*decided, overruled=seen)
                return
        if decided is not None:
            await self._apply(*decided, overruled=seen)

    async def _decide(
        self, key: JobKey
    ) -> tuple[ComputeJob, Mapping[str, Any], Actions, list[dict[str, Any]]] | None:
        """What to do with the job, and the manifests of the pods to create now; those pods
        count in the cache from here on, so the next decision sees the capacity they take."""
        body = self.cache.jobs.get(key)
        if body is None:
            return None
        try:
            job = ComputeJob.model_validate(body)
        except ValidationError as error:
            log.warning("job %s/%s cannot be read: %s", *key, error)
            await self._unreadable(body, [str(e) for e in field_errors(error)])
            return None
        self.config_files.refresh()
        quota = await self.gate.verdict(key, job, body, self.config_files.catalog, self.clock())
        pods = list(self.cache.pods.get(key, {}).values())
        actions = self._plan(job, body, pods, quota)
        manifests = self.pods_of.manifests(job, body, actions)
        for manifest in manifests:
            self.cache.put_pod(manifest, key[1])
        # Our own write is the newest state, and the admission it may carry holds quota for the
        # next decision already (the patch itself is sent after the lock).
        body["status"] = status_of(actions)
        catalog = self.config_files.catalog
        actions.status = estimated_status(
            self.time,
            key,
            body,
            actions.status,
            self.clock(),
            quota_book=lambda: self.gate.book_and_pending(catalog),
            known_types=catalog.names,
        )
        if (actions.status.estimate_basis or "").startswith(PENDING):
            soon = actions.requeue_after
            actions.requeue_after = min(soon or ESTIMATE_EVERY_SECONDS, ESTIMATE_EVERY_SECONDS)
        body["status"] = status_of(actions)
        return job, body, actions, manifests

    def _plan(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        pods: list[dict[str, Any]],
        quota: QuotaVerdict | None = None,
    ) -> Actions:
        types = quota.admission.accelerator_types if isinstance(quota, QuotaHeld) else None
        return reconcile(
            Observed(
                job=job,
                meta=body["metadata"],
                pods=pods,
                now=self.clock(),
                admit=lambda missing: (
                    self._admit(job, body, missing, types)
                    or Admission({}, False, "no plan was made for the gang")
                ),
                gate=lambda missing: self._admit(job, body, missing, types, gang=False),
                price_of=self.facts.price_of,
                accelerator_of=self.facts.accelerator_of,
                quota=quota,
                limits=self.queues.limits(job, str(body["metadata"]["namespace"])),
                rooms_gone=lambda refused: planned_room_gone(
                    self._planner(), refused, self.facts.reserved(job_key(body))
                ),
            )
        )

    def _planner(self) -> Planner:
        self.cluster.prepare()
        files = self.config_files
        return Planner(self.cluster, files.catalog, files.latency, files.data_policy)

    def _admit(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        missing: list[PodSlot],
        admitted_types: list[str] | None = None,
        *,
        gang: bool = True,
    ) -> Admission | None:
        """A gang's plan, or, for any job with jobs waiting ahead of it, the backfill verdict;
        None: a job without a gang that nothing waits ahead of (its pods are created as is)."""
        key = job_key(body)
        try:
            demands = self.pods_of.demands(job, body, missing, admitted_types)
        except DemandError as error:
            return (
                Admission({}, False, f"the job's pods cannot be scored: {error}") if gang else None
            )
        spec_gang = job.spec.gang
        min_member = spec_gang.min_member if spec_gang else len(missing)
        limits = self.queues.limits(job, key[0])
        candidate = Candidate(
            f"{key[0]}/{key[1]}", demands, min_member, limits.time_limit, limits.planned
        )

        def alone() -> Admission:
            planner = self._planner()
            return plan_gang(
                self.cluster,
                demands,
                min_member,
                catalog=planner.catalog,
                latency=planner.latency,
                data_policy=planner.data_policy,
                reserved=self.facts.reserved(key),
            )

        return self.time.gate(key, body, candidate, self.clock(), alone if gang else None)

    def export_gauges(self) -> None:
        """Called per scrape: the gauges from the caches."""
        export_gauges(self.metrics, self.cache.jobs, self.queues.bodies)
