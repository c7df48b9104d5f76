"""The work queue: a job is queued once, never handed to two workers at the same time, and jobs
that only wait for quota are handed out after the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

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


@dataclass(frozen=True)
class LaneCase:
    name: str
    added: list[tuple[str, bool]]  # (job, prompt), in the order added
    order: list[str]  # the order the jobs are handed out


LANES = [
    LaneCase(
        "a prompt job goes ahead of jobs already waiting in the background",
        [("w1", False), ("w2", False), ("w3", False), ("admitted", True)],
        ["admitted", "w1", "w2", "w3"],
    ),
    LaneCase(
        "the background gets every fourth turn while prompt jobs are queued",
        [("w1", False), ("w2", False), *((f"p{i}", True) for i in range(6))],
        ["p0", "p1", "p2", "w1", "p3", "p4", "p5", "w2"],
    ),
    LaneCase(
        "a background job added again as prompt moves ahead, and is handed out once",
        [("w1", False), ("w2", False), ("w2", True)],
        ["w2", "w1"],
    ),
    LaneCase(
        "a prompt job added again for the background stays prompt",
        [("w1", False), ("p", True), ("p", False)],
        ["p", "w1"],
    ),
    LaneCase(
        "one lane alone is first in, first out",
        [("w1", False), ("w2", False), ("w3", False)],
        ["w1", "w2", "w3"],
    ),
]


@pytest.mark.parametrize("case", LANES, ids=[c.name for c in LANES])
def test_jobs_that_only_wait_for_quota_are_handed_out_after_the_others(case: LaneCase) -> None:
    async def scenario() -> list[str]:
        work: WorkQueue[str] = WorkQueue()
        for key, prompt in case.added:
            work.add(key, prompt=prompt)
        taken = []
        while work.waiting():
            key = await work.get()
            taken.append(key)
            work.done(key)
        assert work.idle()
        return taken

    assert asyncio.run(scenario()) == case.order


def test_a_job_changed_while_reconciled_returns_to_the_prompt_lane_if_any_change_asks() -> None:
    async def scenario() -> list[str]:
        work: WorkQueue[str] = WorkQueue()
        work.add("a", prompt=False)
        assert await work.get() == "a"
        work.add("w", prompt=False)
        work.add("a", prompt=False)
        work.add("a", prompt=True)  # e.g. admitted by another job's cycle meanwhile
        work.done("a")
        taken = [await work.get()]
        work.done(taken[0])
        taken.append(await work.get())
        work.done(taken[1])
        assert work.idle()
        return taken

    assert asyncio.run(scenario()) == ["a", "w"]
