"""Reconciling one ComputeJob: read the cached job and pods, run the pure lifecycle, apply the
actions through the store. One worker serialises admissions, so two gangs are never admitted
onto the same free capacity."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from suanli.api import ComputeJob, ComputeJobStatus, Phase
from suanli.api.errors import field_errors
from suanli.configfiles import ScoringConfigFiles
from suanli.controller import companions, edge
from suanli.controller.admission import Admission, plan_gang
from suanli.controller.budgets import BudgetKeeper
from suanli.controller.cache import JobCache, JobKey, job_key
from suanli.controller.estimates import PENDING, estimated_status
from suanli.controller.facts import ClusterFacts
from suanli.controller.gauges import export_gauges
from suanli.controller.lifecycle import Actions, Observed, reconcile
from suanli.controller.mpi import layout
from suanli.controller.podspec import TASK_LABEL, pod_manifest
from suanli.controller.queues import QueueBoard
from suanli.controller.quota import QuotaHeld, QuotaVerdict
from suanli.controller.quota_gate import ACCOUNTING_SECONDS, QuotaGate
from suanli.controller.refusal import PodRefusal, after_creation, refusal_from, unreadable
from suanli.controller.shares import SharePool, share_pools
from suanli.controller.slots import PodSlot
from suanli.controller.store import JobStore
from suanli.controller.timekeeper import ESTIMATE_EVERY_SECONDS, TimeKeeper
from suanli.controller.workqueue import WorkQueue
from suanli.metrics import OperatorMetrics
from suanli.scoring import DemandError, PodDemand, parse_pod
from suanli.state import ClusterFeed
from suanli.state.backfill import Candidate, Planner

log = logging.getLogger(__name__)
EventPoster = Callable[[Mapping[str, Any], str, str, str], Awaitable[None]]
_RETRY_SECONDS = 2.0
# Pods ending in a burst re-plan waiting jobs once, not once per pod.
_CAPACITY_DEBOUNCE_SECONDS = 0.2
# Pods created per reconcile of one job before the other queued jobs get their turn.
_CREATE_BATCH = 200
# Jobs reconciled at once: their writes overlap, so one slow apiserver answer holds up one job.
WORKERS = 8


class JobController:
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
        self.edge_tolerations = tuple(edge_tolerations)
        self.store = store
        self.cluster = cluster
        self.config_files = config_files
        self.metrics = metrics
        self.post_event = post_event
        self.clock = clock
        self.cache = JobCache()
        self._work: WorkQueue[JobKey] = WorkQueue()
        # Decisions that read what other jobs hold (queues, gang plans) are taken one at a time;
        # the writes that follow them run concurrently.
        self._deciding = asyncio.Lock()
        # Jobs whose cached pods were checked against the apiserver since this process started.
        self._verified: set[JobKey] = set()
        self._timers: dict[JobKey, asyncio.TimerHandle] = {}
        self._capacity_due = False
        # Per job, how often another decision wrote its status (a preemption, an admission):
        # a write of its own decided before that is dropped, and the job is looked at again.
        self._overruled: dict[JobKey, int] = {}
        self.facts = ClusterFacts(cluster, config_files, self.cache)
        self.queues = QueueBoard()
        self.gate = QuotaGate(
            board=self.queues,
            jobs=self.cache.jobs,
            pods=self.cache.pods,
            patch_job_status=store.patch_status,
            patch_queue_status=store.patch_queue_status,
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
            demands=self._readable_demands,
            promised=self.facts.reserved,
        )

    # --- the work queue ----------------------------------------------------------------------

    def enqueue(self, key: JobKey) -> None:
        self._work.add(key)
        self.metrics.queue_depth.set(len(self._work))

    def idle(self) -> bool:
        return self._work.idle()

    def waiting(self) -> frozenset[JobKey]:
        return self._work.waiting()

    async def worker(self, concurrency: int = WORKERS) -> None:
        await asyncio.gather(*(self._worker() for _ in range(concurrency)))

    async def _worker(self) -> None:
        while True:
            key = await self._work.get()
            self.metrics.queue_depth.set(len(self._work))
            began = time.perf_counter()
            try:
                await self.reconcile(key)
                self.metrics.reconciles.labels("success").inc()
            except Exception:
                self.metrics.reconciles.labels("error").inc()
                log.exception("reconciling %s/%s failed; retrying", *key)
                asyncio.get_running_loop().call_later(_RETRY_SECONDS, self.enqueue, key)
            finally:
                self._work.done(key)
            self.metrics.reconcile_duration.observe(time.perf_counter() - began)

    def capacity_freed(self, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
        """A listener for the cluster feed (called on watch threads): capacity grew on a node,
        so re-plan the jobs that wait for room, at most once per short interval."""

        def flush() -> None:
            self._capacity_due = False
            self.enqueue_waiting()

        def schedule() -> None:
            if not self._capacity_due:
                self._capacity_due = True
                loop.call_later(_CAPACITY_DEBOUNCE_SECONDS, flush)

        def listener(_node: str) -> None:
            loop.call_soon_threadsafe(schedule)

        return listener

    def forget(self, key: JobKey) -> None:
        """A deleted job: drop what was remembered of it (parsed spec, demands)."""
        self.queues.forget(key)
        self.time.forget(key)

    def enqueue_waiting(self) -> None:
        """Re-plan the jobs that wait (for room, or for quota)."""
        for key, body in self.cache.jobs.items():
            if (body.get("status") or {}).get("phase") == Phase.QUEUED.value:
                self.enqueue(key)

    async def keep_budgets(self, every: float = ACCOUNTING_SECONDS) -> None:
        """Charge budgeted queues for what runs, on the accounting interval."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.budgets.account(self.clock())
            except Exception:
                log.exception("charging queue budgets failed; trying again next interval")

    async def resync(self, every: float) -> None:
        """A safety net beside the precise requeues: revisit every job now and then."""
        while True:
            await asyncio.sleep(every)
            for key in list(self.cache.jobs):
                self.enqueue(key)

    # --- one job -----------------------------------------------------------------------------

    async def reconcile(self, key: JobKey) -> None:
        if key not in self.cache.jobs:
            self._verified.discard(key)
            return
        if key not in self._verified:
            await self._verify_pods(key)
        async with self._deciding:
            decided = await self._decide(key)
            seen = self._overruled.get(key, 0)
        if decided is not None:
            await self._apply(*decided, overruled=seen)

    def _overrule(self, key: JobKey) -> None:
        self._overruled[key] = self._overruled.get(key, 0) + 1

    async def _admission_first(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        actions: Actions,
        manifests: list[dict[str, Any]],
        overruled: int,
    ) -> bool:
        """Before pods are created: the quota admission recorded; False when another decision
        has written the job's status meanwhile (then nothing is created)."""
        key = job_key(body)
        if self._creation_stale(key, overruled, manifests):
            return False
        await self._record_admission(job, body, actions, manifests)
        return not self._creation_stale(key, overruled, manifests)

    def _creation_stale(self, key: JobKey, seen: int, manifests: list[dict[str, Any]]) -> bool:
        """`_stale` before pods are created: the pods it was about to create are not made."""
        if not manifests or not self._stale(key, seen):
            return False
        for manifest in manifests:
            self.cache.forget_manifest(manifest, key[1])
        return True

    def _stale(self, key: JobKey, seen: int) -> bool:
        """Whether another decision wrote the job's status since this one was made; then look
        again rather than write over it (checked right before each write, with no await in
        between, so no other decision runs between the check and the write)."""
        if self._overruled.get(key, 0) == seen:
            return False
        self.enqueue(key)
        return True

    async def _verify_pods(self, key: JobKey) -> None:
        """Once per job and process, the cached pods against the apiserver's (names first; whole
        pods only when they differ): pods created just before this process started may not have
        reached its watch yet, and a pod the cache misses would be created twice."""
        names = await self.store.list_pod_names(*key)
        if names != set(self.cache.pods.get(key, {})):
            listed = await self.store.list_pods(*key)
            self.cache.replace_job_pods(key, listed)
        self._verified.add(key)

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
        manifests = self._manifests(job, body, actions)
        for manifest in manifests:
            self.cache.put_pod(manifest, key[1])
        # Our own write is the newest state, and the admission it may carry holds quota for the
        # next decision already (the patch itself is sent after the lock).
        body["status"] = _status_of(actions)
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
        body["status"] = _status_of(actions)
        return job, body, actions, manifests

    async def _unreadable(self, body: dict[str, Any], problems: list[str]) -> None:
        """Say on the job why nothing happens to it, once per distinct reason."""
        status, event = unreadable(dict(body.get("status") or {}), problems, self.clock())
        if event is None:
            return
        meta = body["metadata"]
        await self.store.patch_status(str(meta["namespace"]), str(meta["name"]), status)
        body["status"] = status
        await self.post_event(body, event.type, event.reason, event.message)

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
            )
        )

    def _manifests(
        self, job: ComputeJob, body: Mapping[str, Any], actions: Actions
    ) -> list[dict[str, Any]]:
        # A job of thousands of pods is created a batch per turn, so the jobs queued behind it
        # are reconciled in between (the next turn creates what is still missing).
        admission = actions.status.admission
        batch = actions.create[:_CREATE_BATCH]
        pools = self._share_pools(job) if batch else frozenset()
        return [
            pod_manifest(
                job,
                dict(body["metadata"]),
                c.slot,
                self.config_files.catalog,
                attempt=c.attempt,
                planned_node=c.planned_node,
                admitted_types=admission.accelerator_types if admission else None,
                edge_tolerations=self.edge_tolerations,
                share_pools=pools,
            )
            for c in batch
        ]

    async def _apply(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        actions: Actions,
        manifests: list[dict[str, Any]],
        *,
        overruled: int = 0,
    ) -> None:
        meta = body["metadata"]
        namespace = str(meta["namespace"])
        key = job_key(body)
        await _gather(self.store.delete_pod(namespace, name) for name in actions.delete)
        held_back: list[PodRefusal] = []
        where = layout(job, meta) if manifests else None
        if where is not None:
            # The pods mount the hostfile and the key pair: those come first.
            refused = await companions.ensure(self.store, job, meta, where)
            if refused is not None:
                log.warning("%s/%s waits: %s", namespace, meta["name"], refused.describe())
                for manifest in manifests:
                    self.cache.forget_manifest(manifest, str(meta["name"]))
                manifests, held_back = [], [refused]
        if not await self._admission_first(job, body, actions, manifests, overruled):
            return
        results = await _gather(
            self._create_pod(job, namespace, str(meta["name"]), m) for m in manifests
        )
        created = sum(1 for r in results if r is True)
        self.metrics.pods_created.inc(created)
        for manifest, result in zip(manifests, results, strict=True):
            if isinstance(result, PodRefusal):
                self.cache.forget_manifest(manifest, str(meta["name"]))
        refusals = [*held_back, *(r for r in results if isinstance(r, PodRefusal))]
        if refusals or created:
            outcome = after_creation(actions.status, refusals, created, self.clock())
            actions.status, actions.events = outcome.status, [*actions.events, *outcome.events]
            if outcome.retry_after is not None:
                actions.requeue_after = min(actions.requeue_after or 1e9, outcome.retry_after)
        if self._stale(key, overruled):
            return
        await self._write_status(job, body, actions)
        await _gather(self.post_event(body, e.type, e.reason, e.message) for e in actions.events)
        if actions.delete_job:
            await self.store.delete_job(namespace, str(meta["name"]))
            return
        if len(actions.create) > len(manifests):
            self.enqueue(job_key(body))  # behind the jobs already waiting
        if actions.requeue_after is not None:
            self._requeue(job_key(body), actions.requeue_after)

    async def _record_admission(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        actions: Actions,
        manifests: list[dict[str, Any]],
    ) -> None:
        """A quota admission made in this reconcile reaches the job's status before any of its
        pods exists: a restart in between then counts the quota it holds, never lends it out."""
        admission = actions.status.admission
        if not manifests or admission is None or (job.status and job.status.admission):
            return
        meta = body["metadata"]
        await self.store.patch_status(
            str(meta["namespace"]),
            str(meta["name"]),
            {
                "queue": admission.queue,
                "queuePosition": None,
                "admission": admission.model_dump(mode="json", by_alias=True),
            },
        )

    def _share_pools(self, job: ComputeJob) -> frozenset[SharePool]:
        """The accelerator pools a share task picks its stack from (read only for jobs that
        ask for shares: it looks at every node)."""
        if not any(t.accelerators and t.accelerators.shared for t in job.spec.tasks):
            return frozenset()
        with self.cluster.lock:
            facts = [entry.facts for entry in self.cluster.state.nodes.values()]
        return share_pools(facts)

    async def _delete_pods(self, key: JobKey) -> None:
        names = list(self.cache.pods.get(key, {}))
        await _gather(self.store.delete_pod(key[0], name) for name in names)

    async def _create_pod(
        self, job: ComputeJob, namespace: str, job_name: str, manifest: dict[str, Any]
    ) -> bool | PodRefusal:
        """True when created, False when it already was, the apiserver's refusal otherwise."""
        try:
            return await self.store.create_pod(namespace, manifest)
        except ApiException as error:
            task = manifest["metadata"]["labels"][TASK_LABEL]
            index = next(i for i, t in enumerate(job.spec.tasks) if t.name == task)
            refusal = refusal_from(manifest["metadata"]["name"], index, error.status, error.body)
            log.warning("creating a pod in %s refused: %s", namespace, refusal.describe())
            return refusal
        except BaseException:
            # No answer (a timeout, a dropped connection, a cancel): the pod may or may not
            # exist. Without the manifest the next turn creates it again, and a pod that was made
            # after all answers 409 then (its name is fixed).
            self.cache.forget_manifest(manifest, job_name)
            raise

    def _requeue(self, key: JobKey, delay: float) -> None:
        """One timer per job: the earliest wanted look wins, later ones are dropped."""
        loop = asyncio.get_running_loop()
        due = loop.time() + delay + 0.1
        pending = self._timers.get(key)
        if pending is not None and not pending.cancelled() and pending.when() <= due:
            return
        if pending is not None:
            pending.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.enqueue(key)

        self._timers[key] = loop.call_at(due, fire)

    async def _write_status(
        self, job: ComputeJob, body: Mapping[str, Any], actions: Actions
    ) -> None:
        new = _status_of(actions)
        old = (
            job.status.model_dump(mode="json", by_alias=True, exclude_none=True)
            if job.status
            else {}
        )
        if new == old:
            return
        self._observe_transition(job, body, actions)
        # A merge patch keeps what it does not name: fields the new status drops are sent as null.
        patch: dict[str, Any] = {**dict.fromkeys(old.keys() - new.keys()), **new}
        await self.store.patch_status(
            str(body["metadata"]["namespace"]), str(body["metadata"]["name"]), patch
        )
        if actions.status.phase is Phase.SUCCEEDED and (
            job.status is None or job.status.phase is not Phase.SUCCEEDED
        ):
            await self._count_run(actions.status)

    async def _count_run(self, status: ComputeJobStatus) -> None:
        """A job that succeeded adds its run time to its queue's history, kept in the queue's
        status so that it outlives this process (counted once: when its status says it
        succeeded, which it says once)."""
        queue = status.queue or (status.admission.queue if status.admission else None)
        if queue is None or status.start_time is None or status.completion_time is None:
            return
        written = self.queues.record_run(queue, status.start_time, status.completion_time)
        if written is not None:
            await self.store.patch_queue_status(queue, {"runtimeHistory": written})

    def _observe_transition(
        self, job: ComputeJob, body: Mapping[str, Any], actions: Actions
    ) -> None:
        created = _parse_time(body["metadata"].get("creationTimestamp"))
        before = job.status.phase if job.status else None
        after = actions.status.phase
        if created is None or before == after:
            return
        waited = (self.clock() - created).total_seconds()
        if after is Phase.RUNNING and (job.status is None or job.status.start_time is None):
            self.metrics.time_to_running.observe(waited)
        if any(e.reason == "Admitted" for e in actions.events):
            self.metrics.gang_wait.observe(waited)

    # --- facts for the lifecycle ---------------------------------------------------------------

    def _pod_demands(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        missing: list[PodSlot],
        admitted_types: list[str] | None = None,
    ) -> list[PodDemand]:
        """The pods as the extender will read them (DemandError when they cannot be scored)."""
        if admitted_types is None:
            admission = (body.get("status") or {}).get("admission") or {}
            admitted_types = list(admission.get("acceleratorTypes") or []) or None
        pools = self._share_pools(job)
        return [
            parse_pod(
                pod_manifest(
                    job,
                    dict(body["metadata"]),
                    slot,
                    self.config_files.catalog,
                    admitted_types=admitted_types,
                    edge_tolerations=self.edge_tolerations,
                    share_pools=pools,
                )
            )
            for slot in missing
        ]

    def _readable_demands(
        self, job: ComputeJob, body: Mapping[str, Any], missing: list[PodSlot]
    ) -> list[PodDemand] | None:
        try:
            return self._pod_demands(job, body, missing)
        except DemandError:
            return None

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
            demands = self._pod_demands(job, body, missing, admitted_types)
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


def _parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


async def _gather(calls: Any) -> list[Any]:
    pending: list[Awaitable[Any]] = list(calls)
    return list(await asyncio.gather(*pending)) if pending else []


def _status_of(actions: Actions) -> dict[str, Any]:
    return actions.status.model_dump(mode="json", by_alias=True, exclude_none=True)
