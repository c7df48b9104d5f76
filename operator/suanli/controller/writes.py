"""Applying a reconcile's decision through the store: pods deleted and created (the quota
admission written first), the job's status written unless another decision overruled it, events
posted, a succeeded job's run time counted in its queue's history."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from suanli.api import ComputeJob, ComputeJobStatus, Phase
from suanli.controller import companions
from suanli.controller.actions import Actions
from suanli.controller.cache import JobKey, job_key
from suanli.controller.jobloop import JobLoop
from suanli.controller.mpi import layout
from suanli.controller.queues import QueueBoard
from suanli.controller.refusal import PodRefusal, after_creation, refusal_from, unreadable
from suanli.controller.store import JobStore
from suanli.keys import TASK_LABEL

log = logging.getLogger(__name__)
# Pods created at once, whatever the number of jobs reconciled: a job of thousands of pods
# created faster than kube-scheduler binds them takes the apiserver from the binds (which then
# time out in the extender and are tried again), and nothing runs sooner.
POD_CREATES_AT_ONCE = 8
# Phases in which a job holds no quota.
_RELEASING = (Phase.SUCCEEDED, Phase.FAILED, Phase.SUSPENDED)
EventPoster = Callable[[Mapping[str, Any], str, str, str], Awaitable[None]]


class JobWrites(JobLoop):
    """The writes of the job controller (`suanli.controller.service.JobController`)."""

    store: JobStore
    queues: QueueBoard
    post_event: EventPoster
    clock: Callable[[], dt.datetime]
    # Per job, how often another decision wrote its status (a preemption, an admission):
    # a write of its own decided before that is dropped, and the job is looked at again.
    _overruled: dict[JobKey, int]
    # Jobs whose cached pods were checked against the apiserver since this process started.
    _verified: set[JobKey]
    # Pod creates in flight, over every job (POD_CREATES_AT_ONCE).
    _creating: asyncio.Semaphore

    def _overrule(self, key: JobKey) -> None:
        self._overruled[key] = self._overruled.get(key, 0) + 1

    async def _patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Every status write of a job: the cache takes the job as stored, and watch news that
        lags behind the write never replaces it (`JobCache.written`)."""
        key = (namespace, name)
        self.cache.writes(key)
        stored = None
        try:
            stored = await self.store.patch_status(namespace, name, status)
        finally:
            if self.cache.written(key, stored):
                self.enqueue(key)

    async def _patch_queue_status(self, name: str, status: dict[str, Any]) -> None:
        """Every status write of a queue: the board takes the queue as stored."""
        stored = await self.store.patch_queue_status(name, status)
        if stored is not None:
            self.queues.put_queue(stored)

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

    async def load_jobs(self) -> None:
        """Every ComputeJob into the cache before the first reconcile. kopf lists the jobs only
        once started, one event at a time, and an admission cycle over the few listed by then
        would count only their quota: after a restart it could admit past a queue's quota.
        Their events still come, and enqueue them."""
        for body in await self.store.list_jobs():
            self.cache.put_job(body)

    def watched_creation(self, key: JobKey) -> None:
        """A job this process saw being created (a watch's ADDED after its first listing):
        created after this process took the lease and listed the pods, so no other process
        made pods for it and every pod it has was made, and cached, here. Its pods need no
        check against the apiserver (one list of the namespace's pods per job saved)."""
        self._verified.add(key)

    async def _verify_pods(self, key: JobKey) -> None:
        """Once per job and process, the cached pods against the apiserver's (names first; whole
        pods only when they differ): pods created just before this process started may not have
        reached its watch yet, and a pod the cache misses would be created twice."""
        names = await self.store.list_pod_names(*key)
        if names != set(self.cache.pods.get(key, {})):
            listed = await self.store.list_pods(*key)
            self.cache.replace_job_pods(key, listed)
        self._verified.add(key)

    async def _unreadable(self, body: dict[str, Any], problems: list[str]) -> None:
        """Say on the job why nothing happens to it, once per distinct reason."""
        status, event = unreadable(dict(body.get("status") or {}), problems, self.clock())
        if event is None:
            return
        meta = body["metadata"]
        await self._patch_status(str(meta["namespace"]), str(meta["name"]), status)
        body["status"] = status
        await self.post_event(body, event.type, event.reason, event.message)

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
        await gather(self.store.delete_pod(namespace, name) for name in actions.delete)
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
        results = await gather(
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
        await gather(self.post_event(body, e.type, e.reason, e.message) for e in actions.events)
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
        await self._patch_status(
            str(meta["namespace"]),
            str(meta["name"]),
            {
                "queue": admission.queue,
                "queuePosition": None,
                "admission": admission.model_dump(mode="json", by_alias=True),
            },
        )

    async def _delete_pods(self, key: JobKey) -> None:
        names = list(self.cache.pods.get(key, {}))
        await gather(self.store.delete_pod(key[0], name) for name in names)

    async def _create_pod(
        self, job: ComputeJob, namespace: str, job_name: str, manifest: dict[str, Any]
    ) -> bool | PodRefusal:
        """True when created, False when it already was, the apiserver's refusal otherwise."""
        try:
            async with self._creating:
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

    async def _write_status(
        self, job: ComputeJob, body: Mapping[str, Any], actions: Actions
    ) -> None:
        new = status_of(actions)
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
        await self._patch_status(
            str(body["metadata"]["namespace"]), str(body["metadata"]["name"]), patch
        )
        # The quota it held is free from this write on: the jobs waiting for quota may fit now
        # (its pods leaving their nodes re-plans them too, but that can come first).
        ended = actions.status.phase in _RELEASING
        changed = job.status is None or job.status.phase is not actions.status.phase
        if ended and changed and self.queues.active:
            self.enqueue_waiting()
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
            await self._patch_queue_status(queue, {"runtimeHistory": written})

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


def _parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


async def gather(calls: Any) -> list[Any]:
    pending: list[Awaitable[Any]] = list(calls)
    return list(await asyncio.gather(*pending)) if pending else []


def status_of(actions: Actions) -> dict[str, Any]:
    return actions.status.model_dump(mode="json", by_alias=True, exclude_none=True)
