"""When a waiting job's queue has room: admitted jobs' charges released in the order they end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from suanli.api.queues import ComputeQueueSpec
from suanli.queueing import Charge, JobRequest, QuotaBook
from suanli.queueing.quotatime import Ending, quota_frees

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
QUEUE = ComputeQueueSpec.model_validate({"quotas": [{"resource": "H100", "nominal": 16}]})


def _held(gpus: float) -> Charge:
    return Charge("q", (("H100", gpus),), ("H100",))


def _request(gpus: float) -> JobRequest:
    return JobRequest("team", "new", "q", 0, "", gpus, ("H100",), 0.0, 0.0)


@dataclass(frozen=True)
class Case:
    name: str
    held: tuple[tuple[str, float, int | None], ...]  # (job, GPUs, ends in minutes)
    wants: float
    at: int | None  # minutes from now
    waits_for: tuple[str, ...] = ()


CASES = (
    Case("room now", (("a", 8, 30),), 8, 0),
    Case("once the first to end frees enough", (("a", 8, 30), ("b", 8, 10)), 8, 10, ("b",)),
    Case("both must end", (("a", 8, 30), ("b", 8, 10)), 16, 30, ("b", "a")),
    Case("a job without an end never frees", (("a", 8, None), ("b", 8, 10)), 16, None, ("b",)),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_quota_frees(case: Case) -> None:
    charges = [(job, _held(gpus), ends) for job, gpus, ends in case.held]
    book = QuotaBook({"q": QUEUE}, [c for _, c, _ in charges])
    ending = [
        Ending(job, charge, NOW + dt.timedelta(minutes=ends) if ends is not None else None)
        for job, charge, ends in charges
    ]
    at, waits_for = quota_frees(book, _request(case.wants), ["H100"], ending, NOW)
    assert at == (NOW + dt.timedelta(minutes=case.at) if case.at is not None else None)
    if case.waits_for:
        assert waits_for == case.waits_for
    # The book is as it was.
    assert book.used("q", "H100") == sum(gpus for _, gpus, _ in case.held)
