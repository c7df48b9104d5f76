"""Quota admission, table by table, and a property over random queues and job mixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.api.queues import ComputeQueueSpec
from suanli.queueing import Charge, Holder, JobRequest, QuotaBook, admission_cycle

TYPES = ("H100", "A100", "L4")


def spec(**fields: Any) -> ComputeQueueSpec:
    return ComputeQueueSpec.model_validate(fields)


def job(name: str, queue: str, **fields: Any) -> JobRequest:
    defaults: dict[str, Any] = {
        "namespace": "ns",
        "name": name,
        "queue": queue,
        "priority": 0,
        "created": f"2026-01-01T00:00:{len(name):02d}Z",
        "devices": 0.0,
        "types": (),
        "cpu": 0.0,
        "memory": 0.0,
    }
    return JobRequest(**(defaults | fields))


@dataclass(frozen=True)
class Case:
    name: str
    queues: dict[str, dict[str, Any]]
    held: list[Charge]
    pending: list[JobRequest]
    admitted: dict[str, tuple[str, ...]]  # job -> the accelerator types it may use
    waiting: dict[str, str] = field(default_factory=dict)  # job -> reason
    message_has: str = ""


TEAM = {"quotas": [{"resource": "H100", "nominal": 8}, {"resource": "A100", "nominal": 8}]}

CASES = [
    Case(
        name="within nominal, first accepted type",
        queues={"a": TEAM},
        held=[],
        pending=[job("j", "a", devices=8, types=("H100", "A100"))],
        admitted={"j": ("H100",)},
    ),
    Case(
        name="falls back to the next accepted type's quota",
        queues={"a": TEAM},
        held=[Charge("a", (("H100", 8),), ("H100",))],
        pending=[job("j", "a", devices=4, types=("H100", "A100"))],
        admitted={"j": ("A100",)},
    ),
    Case(
        name="no accepted type has room: waits, naming every quota tried",
        queues={"a": TEAM},
        held=[Charge("a", (("H100", 8),), ("H100",)), Charge("a", (("A100", 6),), ("A100",))],
        pending=[job("j", "a", devices=4, types=("H100", "A100"))],
        admitted={},
        waiting={"j": "QuotaExhausted"},
        message_has="needs 4 A100; queue a holds 6 of 8 and has no cohort",
    ),
    Case(
        name="the gpu pool takes the types the queue does not name, preference kept",
        queues={
            "a": {"quotas": [{"resource": "H100", "nominal": 0}, {"resource": "gpu", "nominal": 4}]}
        },
        held=[],
        pending=[job("j", "a", devices=2, types=("H100", "L4", "A100"))],
        admitted={"j": ("L4", "A100")},
    ),
    Case(
        name="any type: named quotas in the queue's order, then the pool",
        queues={
            "a": {"quotas": [{"resource": "A100", "nominal": 1}, {"resource": "gpu", "nominal": 4}]}
        },
        held=[],
        pending=[job("j", "a", devices=2)],
        admitted={"j": ("H100", "L4")},
    ),
    Case(
        name="no quota for the type at all",
        queues={"a": {"quotas": [{"resource": "A100", "nominal": 8}]}},
        held=[],
        pending=[job("j", "a", devices=1, types=("H100",))],
        admitted={},
        waiting={"j": "NoQuotaForType"},
    ),
    Case(
        name="borrows the idle quota of its cohort",
        queues={
            "a": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8}]},
        },
        held=[],
        pending=[job("j", "a", devices=10, types=("H100",))],
        admitted={"j": ("H100",)},
    ),
    Case(
        name="borrowing stops at the lenders' lending limit",
        queues={
            "a": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8, "lendingLimit": 2}]},
        },
        held=[],
        pending=[job("j", "a", devices=7, types=("H100",))],
        admitted={},
        waiting={"j": "QuotaExhausted"},
        message_has="cohort c has 2 H100 to lend",
    ),
    Case(
        name="borrowing stops at the borrower's own limit",
        queues={
            "a": {
                "cohort": "c",
                "quotas": [{"resource": "H100", "nominal": 4, "borrowingLimit": 1}],
            },
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8}]},
        },
        held=[],
        pending=[job("j", "a", devices=6, types=("H100",))],
        admitted={},
        waiting={"j": "QuotaExhausted"},
        message_has="it may borrow 1, this needs 2",
    ),
    Case(
        name="a lender's own job waits while its quota is lent out",
        queues={
            "a": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 8}]},
        },
        held=[Charge("a", (("H100", 10),), ("H100",))],
        pending=[job("j", "b", devices=4, types=("H100",))],
        admitted={},
        waiting={"j": "QuotaExhausted"},
        message_has="lent to queues of cohort c",
    ),
    Case(
        name="priority first, then creation time",
        queues={"a": {"quotas": [{"resource": "H100", "nominal": 4}]}},
        held=[],
        pending=[
            job("early", "a", devices=4, types=("H100",), created="2026-01-01T00:00:00Z"),
            job(
                "urgent",
                "a",
                devices=4,
                types=("H100",),
                priority=10,
                created="2026-01-01T01:00:00Z",
            ),
        ],
        admitted={"urgent": ("H100",)},
        waiting={"early": "QuotaExhausted"},
    ),
    Case(
        name="best effort: a small job behind a blocked one goes",
        queues={"a": {"quotas": [{"resource": "H100", "nominal": 4}]}},
        held=[],
        pending=[
            job("big", "a", devices=8, types=("H100",), created="2026-01-01T00:00:00Z"),
            job("small", "a", devices=2, types=("H100",), created="2026-01-01T00:00:01Z"),
        ],
        admitted={"small": ("H100",)},
        waiting={"big": "QuotaExhausted"},
    ),
    Case(
        name="strict FIFO: nothing passes a blocked head",
        queues={"a": {"headOfLine": "StrictFIFO", "quotas": [{"resource": "H100", "nominal": 4}]}},
        held=[],
        pending=[
            job("big", "a", devices=8, types=("H100",), created="2026-01-01T00:00:00Z"),
            job("small", "a", devices=2, types=("H100",), created="2026-01-01T00:00:01Z"),
        ],
        admitted={},
        waiting={"big": "QuotaExhausted", "small": "BehindHeadOfLine"},
    ),
    Case(
        name="cpu and memory quotas count too",
        queues={
            "a": {
                "quotas": [
                    {"resource": "cpu", "nominal": 10},
                    {"resource": "memory", "nominal": 64},
                ]
            }
        },
        held=[Charge("a", (("cpu", 8), ("memory", 16)))],
        pending=[job("j", "a", cpu=4, memory=8)],
        admitted={},
        waiting={"j": "QuotaExhausted"},
        message_has="needs 4 cpu",
    ),
    Case(
        name="the queue holding less goes first in a cohort",
        queues={
            "a": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
        },
        held=[Charge("a", (("H100", 3),), ("H100",))],
        pending=[
            job("ja", "a", devices=2, types=("H100",)),
            job("jb", "b", devices=4, types=("H100",)),
        ],
        admitted={"jb": ("H100",)},
        waiting={"ja": "QuotaExhausted"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_admission_cycle(case: Case) -> None:
    book = QuotaBook({n: spec(**q) for n, q in case.queues.items()}, case.held)
    result = admission_cycle(book, case.pending, TYPES)
    assert {k[1]: a.charge.accelerator_types for k, a in result.admitted.items()} == case.admitted
    assert {k[1]: w.reason for k, w in result.waiting.items()} == case.waiting
    if case.message_has:
        messages = " | ".join(w.message for w in result.waiting.values())
        assert case.message_has in messages, messages


def test_positions_follow_the_queue_order() -> None:
    book = QuotaBook({"a": spec(quotas=[{"resource": "H100", "nominal": 0}])}, [])
    pending = [job(f"j{i}", "a", devices=1, types=("H100",), priority=i) for i in range(3)]
    result = admission_cycle(book, pending, TYPES)
    assert {k[1]: w.position for k, w in result.waiting.items()} == {"j2": 1, "j1": 2, "j0": 3}


# --- the invariants, over random queues and job mixes -------------------------------------------

amounts = st.integers(min_value=0, max_value=12).map(float)


@st.composite
def queue_specs(draw: st.DrawFn) -> dict[str, ComputeQueueSpec]:
    queues = {}
    for name in ("q0", "q1", "q2", "q3"):
        cohort = draw(st.sampled_from([None, "c1", "c2"]))
        quotas = []
        for resource in draw(
            st.lists(st.sampled_from([*TYPES, "gpu", "cpu"]), unique=True, max_size=4)
        ):
            nominal = draw(amounts)
            quota: dict[str, Any] = {"resource": resource, "nominal": nominal}
            if cohort and draw(st.booleans()):
                quota["borrowingLimit"] = draw(amounts)
            if draw(st.booleans()):
                quota["lendingLimit"] = draw(st.integers(0, int(nominal)).map(float))
            quotas.append(quota)
        queues[name] = spec(
            cohort=cohort,
            quotas=quotas,
            headOfLine=draw(st.sampled_from(["StrictFIFO", "BestEffortFIFO"])),
            preemption={"fairSharing": draw(st.booleans())},
            fairShare={"weight": draw(st.sampled_from([1, 2])), "usageHalfLifeHours": 0},
        )
    return queues


@st.composite
def job_mixes(draw: st.DrawFn) -> list[JobRequest]:
    count = draw(st.integers(1, 25))
    return [
        job(
            f"j{i}",
            draw(st.sampled_from(["q0", "q1", "q2", "q3"])),
            devices=draw(st.integers(0, 8).map(float)),
            types=tuple(draw(st.lists(st.sampled_from(TYPES), unique=True, max_size=3))),
            cpu=draw(st.integers(0, 6).map(float)),
            priority=draw(st.integers(0, 3)),
            created=f"2026-01-01T00:{i:02d}:00Z",
        )
        for i in range(count)
    ]


def check_victim(
    queues: dict[str, ComputeQueueSpec], job: JobRequest, victim: Holder, reason: str
) -> None:
    """A victim is preemptible, and taken as the reason given allows."""
    assert victim.preemptible
    if reason == "InQueuePriority":
        assert victim.charge.queue == job.queue
        assert victim.priority < job.priority
        return
    # ReclaimBorrowed or FairSharing: a job of another queue of the same cohort.
    preemptor = queues[job.queue]
    assert victim.charge.queue != job.queue
    assert preemptor.cohort == queues[victim.charge.queue].cohort is not None
    if reason == "FairSharing":
        assert preemptor.preemption.fair_sharing


@given(queues=queue_specs(), first=job_mixes(), second=job_mixes())
@settings(max_examples=150, deadline=None)
def test_quota_invariants_hold_over_any_mix(
    queues: dict[str, ComputeQueueSpec], first: list[JobRequest], second: list[JobRequest]
) -> None:
    # Two cycles, the second on top of what the first admitted (as the operator runs them),
    # free to preempt what the first admitted.
    holders: list[Holder] = []
    for pending in (first, [j.__class__(**{**j.__dict__, "name": "b" + j.name}) for j in second]):
        by_key = {j.key: j for j in pending}
        result = admission_cycle(
            QuotaBook(queues, [h.charge for h in holders]), pending, TYPES, holders
        )
        assert set(result.admitted) | set(result.waiting) == set(by_key)
        assert not set(result.admitted) & set(result.waiting)
        for key, admitted in result.admitted.items():
            for victim, reason in zip(admitted.victims, admitted.reasons, strict=True):
                check_victim(queues, by_key[key], victim, reason)
                holders.remove(victim)
            holders.append(Holder(key[0], key[1], admitted.charge, by_key[key].priority, "2026"))
    held = [h.charge for h in holders]
    book = QuotaBook(queues, held)
    for name, queue in queues.items():
        for quota in queue.quotas:
            used = book.used(name, quota.resource)
            limit = quota.nominal + (
                quota.borrowing_limit if quota.borrowing_limit is not None else float("inf")
            )
            # Usage never exceeds nominal + what the queue may borrow (no cohort: nominal).
            assert used <= (limit if queue.cohort else quota.nominal) + 1e-9
    # Per cohort and resource, what is borrowed never exceeds what the others lend.
    for cohort in ("c1", "c2"):
        members = [n for n, q in queues.items() if q.cohort == cohort]
        for resource in {q.resource for n in members for q in queues[n].quotas}:
            lent = borrowed = 0.0
            for name in members:
                member_quota = queues[name].quota(resource)
                if member_quota is None:
                    continue
                used = book.used(name, resource)
                lending = member_quota.lending_limit
                limit = member_quota.nominal if lending is None else lending
                lent += min(limit, max(0.0, member_quota.nominal - used))
                borrowed += max(0.0, used - member_quota.nominal)
            assert borrowed <= lent + 1e-9, (cohort, resource)
    # An admitted job's devices are charged to a quota of one of the types it accepts.
    for charge in held:
        assert all(t in TYPES for t in charge.accelerator_types)
