"""The work queue that drives reconciles: workers, per-job timers, the periodic resync, and
re-planning the waiting jobs when capacity frees. What one reconcile does is the subclass's
`reconcile`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from suanli.api import Phase
from suanli.controller.cache import JobCache, JobKey
from suanli.controller.quota import waits_for_quota
from suanli.controller.workqueue import WorkQueue
from suanli.metrics import OperatorMetrics

log = logging.getLogger(__name__)
_RETRY_SECONDS = 2.0
# Pods ending in a burst re-plan waiting jobs once, not once per pod.
_CAPACITY_DEBOUNCE_SECONDS = 0.2
# A job's pods change in bursts (bound one by one, then started one by one): its reconcile
# waits this long (plus the timer margin) after the first change, so that one look, and one
# status write, covers the burst.
POD_SETTLE_SECONDS = 0.15
# Jobs reconciled at once: their writes overlap, so one slow apiserver answer holds up one job.
# A reconcile mostly waits for the apiserver (its decision is taken under one lock, its writes
# are not): with 8, a burst of 1000 new jobs kept the queue 900 deep while the loop sat idle.
WORKERS = 16


class JobLoop:
    """Jobs queued for a reconcile, each at most once at a time."""

    def __init__(self, *, cache: JobCache, metrics: OperatorMetrics) -> None:
        self.cache = cache
        self.metrics = metrics
        self._work: WorkQueue[JobKey] = WorkQueue()
        self._timers: dict[JobKey, asyncio.TimerHandle] = {}
        self._capacity_due = False

    async def reconcile(self, key: JobKey) -> None:
        raise NotImplementedError

    def enqueue(self, key: JobKey) -> None:
        waits = waits_for_quota(self.cache.jobs.get(key), bool(self.cache.pods.get(key)))
        self._work.add(key, prompt=not waits)
        self.metrics.queue_depth.set(len(self._work))

    def pods_changed(self, key: JobKey) -> None:
        """One of the job's pods changed: look at the job once the burst has settled (a timer
        from the first change, not moved by the later ones, so a steady stream still gets
        looked at)."""
        self._requeue(key, POD_SETTLE_SECONDS)

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

    def enqueue_waiting(self) -> None:
        """Re-plan the jobs that wait (for room, or for quota)."""
        for key, body in self.cache.jobs.items():
            if (body.get("status") or {}).get("phase") == Phase.QUEUED.value:
                self.enqueue(key)

    async def resync(self, every: float) -> None:
        """A safety net beside the precise requeues: revisit every job now and then."""
        while True:
            await asyncio.sleep(every)
            for key in list(self.cache.jobs):
                self.enqueue(key)

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
