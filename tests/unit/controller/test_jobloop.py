"""The work loop: a burst of pod changes of one job is one reconcile, soon after the first."""

from __future__ import annotations

import asyncio

from suanli.controller.cache import JobCache, JobKey
from suanli.controller.jobloop import POD_SETTLE_SECONDS, JobLoop
from suanli.metrics import OperatorMetrics


class CountingLoop(JobLoop):
    def __init__(self) -> None:
        super().__init__(cache=JobCache(), metrics=OperatorMetrics())
        self.looked: list[tuple[JobKey, float]] = []

    async def reconcile(self, key: JobKey) -> None:
        self.looked.append((key, asyncio.get_running_loop().time()))


def test_a_burst_of_pod_changes_is_one_reconcile_of_each_job_soon_after_its_first() -> None:
    async def scenario() -> tuple[list[tuple[JobKey, float]], float]:
        loop = CountingLoop()
        worker = asyncio.ensure_future(loop.worker(concurrency=2))
        began = asyncio.get_running_loop().time()
        for _ in range(4):  # four pods bound, then started, one by one
            loop.pods_changed(("ns", "a"))
            loop.pods_changed(("ns", "b"))
            await asyncio.sleep(0.01)
        for _ in range(100):  # until both were looked at, then a while longer for a second look
            await asyncio.sleep(0.05)
            if len(loop.looked) >= 2:
                break
        await asyncio.sleep(POD_SETTLE_SECONDS + 0.2)
        worker.cancel()
        return loop.looked, began

    looked, began = asyncio.run(scenario())
    assert sorted(key for key, _ in looked) == [("ns", "a"), ("ns", "b")]
    # Not at once, and not put off by the later changes (generous: a loaded machine is late).
    assert all(POD_SETTLE_SECONDS <= at - began < POD_SETTLE_SECONDS + 2.0 for _, at in looked)


def test_a_steady_stream_of_pod_changes_does_not_put_the_look_off() -> None:
    async def scenario() -> int:
        loop = CountingLoop()
        worker = asyncio.ensure_future(loop.worker(concurrency=1))
        for _ in range(30):  # a change every 20 ms for 0.6 s
            loop.pods_changed(("ns", "a"))
            await asyncio.sleep(0.02)
        worker.cancel()
        return len(loop.looked)

    # Looked at during the stream (about every POD_SETTLE_SECONDS + margin), not only after it.
    assert asyncio.run(scenario()) >= 2
