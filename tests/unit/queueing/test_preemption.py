"""Choosing victims: whole jobs, as few and as low in priority as possible, never the
non-preemptible, within the queue by priority or across the cohort to reclaim lent quota."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.queueing import Charge, Holder, QuotaBook, admission_cycle
from tests.unit.queueing.test_admission_cycle import TYPES, job, spec


def holder(name: str, queue: str, gpus: float, priority: int = 0, **fields: Any) -> Holder:
    return Holder(
        namespace="ns",
        name=name,
        charge=Charge(queue, (("H100", gpus),), ("H100",)),
        priority=priority,
        admitted_at=fields.pop("admitted_at", "2026-01-01T00:00:00Z"),
        **fields,
    )


@dataclass(frozen=True)
class Case:
    name: str
    queues: dict[str, dict[str, Any]]
    holders: list[Holder]
    wanted: int  # H100 devices of the waiting job "new"
    priority: int
    queue: str = "a"
    victims: list[str] = field(default_factory=list)  # empty: the job waits
    reasons: list[str] = field(default_factory=list)


ONE = {"a": {"quotas": [{"resource": "H100", "nominal": 8}]}}
NEVER = {
    "a": {"preemption": {"withinQueue": "Never"}, "quotas": [{"resource": "H100", "nominal": 8}]}
}
COHORT = {
    "a": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
    "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8}]},
}


# Two (or three) queues with no quota of their own, borrowing a pool's eight H100.
def fair(weights: dict[str, float], *, fair_sharing: bool = True) -> dict[str, dict[str, Any]]:
    queues: dict[str, dict[str, Any]] = {
        "pool": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8}]}
    }
    for name, weight in weights.items():
        queues[name] = {
            "cohort": "c",
            "fairShare": {"weight": weight, "usageHalfLifeHours": 0},
            "preemption": {"fairSharing": fair_sharing},
            "quotas": [{"resource": "H100", "nominal": 0}],
        }
    return queues


CASES = [
    Case(
        name="a higher priority takes a lower one's quota",
        queues=ONE,
        holders=[holder("low", "a", 8, priority=1)],
        wanted=8,
        priority=5,
        victims=["low"],
        reasons=["InQueuePriority"],
    ),
    Case(
        name="only as many victims as needed, the lowest priority first",
        queues=ONE,
        holders=[holder("mid", "a", 4, priority=2), holder("lowest", "a", 4, priority=0)],
        wanted=4,
        priority=5,
        victims=["lowest"],
        reasons=["InQueuePriority"],
    ),
    Case(
        name="among equal priorities the most recently admitted goes",
        queues=ONE,
        holders=[
            holder("older", "a", 4, admitted_at="2026-01-01T00:00:00Z"),
            holder("newer", "a", 4, admitted_at="2026-01-01T01:00:00Z"),
        ],
        wanted=4,
        priority=5,
        victims=["newer"],
        reasons=["InQueuePriority"],
    ),
    Case(
        name="a victim that is not needed is given back",
        queues=ONE,
        holders=[holder("small", "a", 2, priority=0), holder("big", "a", 6, priority=1)],
        wanted=6,
        priority=5,
        victims=["big"],
        reasons=["InQueuePriority"],
    ),
    Case(
        name="equal priority preempts nothing",
        queues=ONE,
        holders=[holder("peer", "a", 8, priority=5)],
        wanted=8,
        priority=5,
    ),
    Case(
        name="a non-preemptible job is never taken",
        queues=ONE,
        holders=[holder("pinned", "a", 8, priority=0, preemptible=False)],
        wanted=8,
        priority=5,
    ),
    Case(
        name="withinQueue Never: the job waits",
        queues=NEVER,
        holders=[holder("low", "a", 8, priority=0)],
        wanted=8,
        priority=5,
    ),
    Case(
        name="a lender reclaims from a borrower whatever its priority",
        queues=COHORT,
        holders=[holder("borrower", "a", 10, priority=100)],
        wanted=4,
        priority=0,
        queue="b",
        victims=["borrower"],
        reasons=["ReclaimBorrowed"],
    ),
    Case(
        name="no reclaim for a job beyond its own queue's nominal",
        queues=COHORT,
        holders=[holder("borrower", "a", 10, priority=100)],
        wanted=9,
        priority=0,
        queue="b",
    ),
    Case(
        name="fairSharing: a queue holding less takes from the one holding more",
        queues=fair({"a": 1, "b": 1}),
        holders=[holder("b1", "b", 4), holder("b2", "b", 4, admitted_at="2026-01-01T01:00:00Z")],
        wanted=4,
        priority=0,
        victims=["b2"],
        reasons=["FairSharing"],
    ),
    Case(
        name="fairSharing never turns who is ahead around: a job too big to leave the victim "
        "at least the same share waits",
        queues=fair({"a": 1, "b": 1}),
        holders=[holder("b1", "b", 8)],
        wanted=4,
        priority=0,
    ),
    Case(
        name="fairSharing weighs: a queue of weight 3 may hold three times as much",
        queues=fair({"a": 3, "b": 1}),
        holders=[
            holder("a1", "a", 4),
            holder("b1", "b", 2),
            holder("b2", "b", 2, admitted_at="2026-01-01T01:00:00Z"),
        ],
        wanted=2,
        priority=0,
        victims=["b2"],
        reasons=["FairSharing"],
    ),
    Case(
        name="fairSharing takes from the queue with the largest share first",
        queues=fair({"a": 1, "b": 1, "c": 1}),
        holders=[holder("b1", "b", 2), holder("c1", "c", 2), holder("c2", "c", 4)],
        wanted=2,
        priority=0,
        victims=["c1"],
        reasons=["FairSharing"],
    ),
    Case(
        name="fairSharing takes no job marked non-preemptible",
        queues=fair({"a": 1, "b": 1}),
        holders=[holder("b1", "b", 4, preemptible=False), holder("b2", "b", 4, preemptible=False)],
        wanted=4,
        priority=0,
    ),
    Case(
        name="without fairSharing a queue holding less waits for the others' jobs to finish",
        queues=fair({"a": 1, "b": 1}, fair_sharing=False),
        holders=[holder("b1", "b", 4), holder("b2", "b", 4)],
        wanted=4,
        priority=0,
    ),
    Case(
        name="a queue that does not borrow keeps its jobs: the lower priority of the own queue goes",
        queues=COHORT,
        holders=[holder("owner", "a", 4, priority=0), holder("lender-use", "b", 8, priority=0)],
        wanted=4,
        priority=9,
        queue="a",
        victims=["owner"],
        reasons=["InQueuePriority"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_victims(case: Case) -> None:
    book = QuotaBook(
        {n: spec(**q) for n, q in case.queues.items()}, [h.charge for h in case.holders]
    )
    new = job(
        "new", case.queue, devices=float(case.wanted), types=("H100",), priority=case.priority
    )
    result = admission_cycle(book, [new], TYPES, case.holders)
    if not case.victims:
        assert new.key in result.waiting
        return
    admitted = result.admitted[new.key]
    assert [v.name for v in admitted.victims] == case.victims
    assert list(admitted.reasons) == case.reasons


def test_a_gang_is_preempted_whole_and_the_book_is_restored_when_nothing_helps() -> None:
    queues = {n: spec(**q) for n, q in ONE.items()}
    gang = holder("gang", "a", 8, priority=0)
    book = QuotaBook(queues, [gang.charge])
    # Twelve devices cannot fit a queue of eight whatever is preempted: nothing changes.
    too_big = job("huge", "a", devices=12.0, types=("H100",), priority=9)
    result = admission_cycle(book, [too_big], TYPES, [gang])
    assert too_big.key in result.waiting
    assert book.used("a", "H100") == 8
    # Four devices take the whole eight-device gang, not half of it.
    result = admission_cycle(
        QuotaBook(queues, [gang.charge]),
        [job("four", "a", devices=4.0, types=("H100",), priority=9)],
        TYPES,
        [gang],
    )
    assert [v.charge.amounts for v in next(iter(result.admitted.values())).victims] == [
        (("H100", 8),)
    ]
