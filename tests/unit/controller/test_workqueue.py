"""The work queue: a job is queued once, and never handed to two workers at the same time."""

from __future__ import annotations

import asyncio

from suanli.controller.workqueue import WorkQueue


def test_a_job_is_queued_once_however_often_it_changes() -> None:
    async def scenario() -> list[str]:
        work: WorkQueue[str] = WorkQueue()
        for key in ("a", "b", "a", "a", "b"):
            work.add(key)
        taken = [await work.get(), await work.get()]
        assert work.idle() is False
        for key in taken:
            work.done(key)
        assert work.idle()
        return taken

    assert asyncio.run(scenario()) == ["a", "b"]


def test_a_job_changed_while_reconciled_waits_for_that_reconcile_then_runs_again() -> None:
    async def scenario() -> None:
        work: WorkQueue[str] = WorkQueue()
        work.add("a")
        assert await work.get() == "a"
        work.add("a")  # changed meanwhile: not handed to a second worker now
        assert work.waiting() == frozenset()
        assert len(work) == 1
        work.done("a")
        assert work.waiting() == {"a"}
        assert await work.get() == "a"
        work.done("a")
        assert work.idle()

    asyncio.run(scenario())


def test_concurrent_workers_never_hold_the_same_job() -> None:
    async def scenario() -> int:
        work: WorkQueue[int] = WorkQueue()
        held: set[int] = set()
        overlaps = 0
        handled = 0

        async def worker() -> None:
            nonlocal overlaps, handled
            while True:
                key = await work.get()
                overlaps += key in held
                held.add(key)
                if handled < 200:
                    work.add(key)  # the job changes while it is reconciled
                    work.add((key + 1) % 3)
                await asyncio.sleep(0.001)
                handled += 1
                held.discard(key)
                work.done(key)

        for key in range(3):
            work.add(key)
        # More workers than jobs: idle workers wait while each job is held.
        workers = [asyncio.ensure_future(worker()) for _ in range(6)]
        while not work.idle():
            await asyncio.sleep(0.01)
        for task in workers:
            task.cancel()
        assert handled >= 200
        return overlaps

    assert asyncio.run(scenario()) == 0
