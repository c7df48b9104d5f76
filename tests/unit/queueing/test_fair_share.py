"""Fair share across a cohort: weights, and past usage averaged over a half-life."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.api.queues import ComputeQueueSpec
from suanli.queueing import Charge, JobRequest, QuotaBook, admission_cycle
from suanli.queueing.fairshare import averaged, dominant_share
from tests.unit.queueing.test_admission_cycle import TYPES, job, spec


@dataclass(frozen=True)
class Average:
    name: str
    previous: dict[str, float]
    used: dict[str, float]
    elapsed_seconds: float
    half_life_hours: float
    expected: dict[str, float]


AVERAGES = [
    Average("one half-life moves halfway", {}, {"H100": 8}, 3600, 1, {"H100": 4}),
    Average("two half-lives move three quarters", {"H100": 0}, {"H100": 8}, 7200, 1, {"H100": 6}),
    Average("idle usage fades", {"H100": 8}, {}, 3600, 1, {"H100": 4}),
    Average("no time, no change", {"H100": 3}, {"H100": 8}, 0, 1, {"H100": 3}),
    Average("half-life 0 keeps nothing", {"H100": 3}, {"H100": 8}, 60, 0, {}),
]


@pytest.mark.parametrize("case", AVERAGES, ids=[c.name for c in AVERAGES])
def test_averaged(case: Average) -> None:
    found = averaged(case.previous, case.used, case.elapsed_seconds, case.half_life_hours)
    assert found == pytest.approx(case.expected)


@dataclass(frozen=True)
class Turns:
    name: str
    weights: dict[str, float]
    history: dict[str, dict[str, float]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)  # devices admitted per queue


TURNS = [
    Turns("equal weights split evenly", {"a": 1, "b": 1}, expected={"a": 4, "b": 4}),
    Turns("weight 2 gets about twice as much", {"a": 2, "b": 1}, expected={"a": 5, "b": 3}),
    Turns(
        "a queue that used much lately waits its turn",
        {"a": 1, "b": 1},
        history={"b": {"H100": 4}},
        expected={"a": 6, "b": 2},
    ),
]


@pytest.mark.parametrize("case", TURNS, ids=[c.name for c in TURNS])
def test_queues_of_a_cohort_take_turns_by_weighted_share(case: Turns) -> None:
    queues: dict[str, Any] = {
        name: spec(
            cohort="c", fairShare={"weight": weight}, quotas=[{"resource": "H100", "nominal": 4}]
        )
        for name, weight in case.weights.items()
    }
    book = QuotaBook(queues, [], case.history)
    pending = [
        job(
            f"{queue}{i:02d}",
            queue,
            devices=1.0,
            types=("H100",),
            created=f"2026-01-01T00:00:{i:02d}Z",
        )
        for queue in case.weights
        for i in range(10)
    ]
    result = admission_cycle(book, pending, TYPES)
    admitted = {queue: 0 for queue in case.weights}
    for admission in result.admitted.values():
        admitted[admission.charge.queue] += 1
    assert admitted == case.expected


def test_queues_without_quota_of_their_own_share_a_cohort_pool_by_weight() -> None:
    """The pool queue lends its 12 devices; the borrowers have no nominal quota, so their
    turns come from their share of the cohort's quota over their weights: 1 : 1 : 2."""
    weights = {"a": 1, "b": 1, "c": 2}
    queues: dict[str, Any] = {
        name: spec(
            cohort="c",
            fairShare={"weight": weight},
            quotas=[{"resource": "H100", "nominal": 0}],
        )
        for name, weight in weights.items()
    }
    queues["pool"] = spec(cohort="c", quotas=[{"resource": "H100", "nominal": 12}])
    book = QuotaBook(queues, [])
    pending = [
        job(f"{q}{i:02d}", q, devices=1.0, types=("H100",), created=f"2026-01-01T00:00:{i:02d}Z")
        for q in weights
        for i in range(10)
    ]
    result = admission_cycle(book, pending, TYPES)
    admitted = dict.fromkeys(weights, 0)
    for admission in result.admitted.values():
        admitted[admission.charge.queue] += 1
    assert admitted == {"a": 3, "b": 3, "c": 6}


# --- devices of every type are one share --------------------------------------------------------

POOL = {
    "cohort": "c",
    "quotas": [{"resource": "H100", "nominal": 32}, {"resource": "L4", "nominal": 8}],
}


def borrower(weight: float = 1, **fields: Any) -> dict[str, Any]:
    quotas = [{"resource": "H100", "nominal": 0}, {"resource": "L4", "nominal": 0}]
    return {"cohort": "c", "fairShare": {"weight": weight}, "quotas": quotas} | fields


def h100(queue: str, amount: float) -> Charge:
    return Charge(queue, (("H100", amount),), ("H100",))


@dataclass(frozen=True)
class Share:
    name: str
    queues: dict[str, dict[str, Any]]
    held: list[Charge]
    expected: dict[str, float]  # queue -> dominant share


SHARES = [
    Share(
        "devices of a scarce type weigh as devices, not as that type's share",
        {"pool": POOL, "a": borrower(), "b": borrower()},
        [Charge("a", (("L4", 4),), ("L4",)), Charge("b", (("H100", 12),), ("H100",))],
        {"a": 4 / 40, "b": 12 / 40},
    ),
    Share(
        "devices held of several types add up",
        {"pool": POOL, "a": borrower()},
        [Charge("a", (("L4", 8),), ("L4",)), Charge("a", (("H100", 8),), ("H100",))],
        {"a": 16 / 40},
    ),
    Share(
        "the gpu pool's devices count with the named types'",
        {
            "pool": POOL | {"quotas": [*POOL["quotas"], {"resource": "gpu", "nominal": 10}]},
            "a": borrower(
                quotas=[{"resource": "H100", "nominal": 0}, {"resource": "gpu", "nominal": 0}]
            ),
        },
        [Charge("a", (("gpu", 5),), ("A100",)), h100("a", 3)],
        {"a": 8 / 42},
    ),
    Share(
        "only the types the queue has quotas for are its cohort's devices",
        {"pool": POOL, "a": borrower(quotas=[{"resource": "L4", "nominal": 0}])},
        [Charge("a", (("L4", 2),), ("L4",))],
        {"a": 2 / 8},
    ),
    Share(
        "cpu stays a share of its own, and the larger share counts",
        {
            "pool": POOL | {"quotas": [*POOL["quotas"], {"resource": "cpu", "nominal": 100}]},
            "a": borrower(
                quotas=[{"resource": "H100", "nominal": 0}, {"resource": "cpu", "nominal": 0}]
            ),
        },
        [Charge("a", (("H100", 4), ("cpu", 50)), ("H100",))],
        {"a": 50 / 100},
    ),
    Share(
        "over the weight",
        {"pool": POOL, "a": borrower(weight=2)},
        [Charge("a", (("H100", 20),), ("H100",))],
        {"a": 20 / 40 / 2},
    ),
]


@pytest.mark.parametrize("case", SHARES, ids=[c.name for c in SHARES])
def test_dominant_share_counts_devices_of_every_type_together(case: Share) -> None:
    book = QuotaBook({n: spec(**q) for n, q in case.queues.items()}, case.held)
    assert {q: dominant_share(book, q) for q in case.expected} == pytest.approx(case.expected)


@pytest.mark.parametrize("case", SHARES, ids=[c.name for c in SHARES])
def test_the_cohorts_quotas_are_read_once_however_often_the_share_is_asked(
    case: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle asks every queue's share at each step: the nominal quotas it is a share of do
    not change, so the queues' quota lists are read for it once, not per step."""
    book = QuotaBook({n: spec(**q) for n, q in case.queues.items()}, case.held)
    reads = 0
    read = ComputeQueueSpec.quota

    def counted(self: ComputeQueueSpec, resource: str) -> Any:
        nonlocal reads
        reads += 1
        return read(self, resource)

    monkeypatch.setattr(ComputeQueueSpec, "quota", counted)
    first = {q: dominant_share(book, q) for q in case.expected}
    once = reads
    for _ in range(50):
        book.hold(case.held[0])
        book.release(case.held[0])
        assert {q: dominant_share(book, q) for q in case.expected} == pytest.approx(first)
    assert reads == once


def test_the_queue_holding_fewer_devices_goes_first_whatever_their_type() -> None:
    """a holds 4 of the cohort's 8 L4 (half of that type) but 4 of its 40 devices; b holds 12
    H100: a is served first, and takes the H100 that b's job also wants."""
    queues = {"pool": spec(**POOL), "a": spec(**borrower()), "b": spec(**borrower())}
    held = [Charge("a", (("L4", 4),), ("L4",)), Charge("b", (("H100", 12),), ("H100",))]
    pending = [
        job("ja", "a", devices=20, types=("H100",)),
        job("jb", "b", devices=20, types=("H100",)),
    ]
    result = admission_cycle(QuotaBook(queues, held), pending, TYPES)
    assert sorted(k[1] for k in result.admitted) == ["ja"]


# --- room held back for the queue with the lower share ------------------------------------------


@dataclass(frozen=True)
class HoldBack:
    name: str
    queues: dict[str, dict[str, Any]]
    held: list[Charge]
    pending: list[JobRequest]
    admitted: list[str]
    waiting: dict[str, str] = field(default_factory=dict)  # job -> reason
    message_has: str = ""


ONE_POOL = {
    "cohort": "c",
    "quotas": [{"resource": "H100", "nominal": 8}, {"resource": "L4", "nominal": 8}],
}

HOLD_BACKS = [
    HoldBack(
        "another queue may not borrow what the lower share's job waits for",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4)],
        [
            job("big", "a", devices=4, types=("H100",)),
            job("small", "b", devices=1, types=("H100",)),
        ],
        admitted=[],
        waiting={"big": "QuotaExhausted", "small": "QuotaExhausted"},
        message_has="holds back what it lends of H100 for ns/big of queue a",
    ),
    HoldBack(
        "each waiting job of the lower share holds back what it needs",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4), Charge("b", (("L4", 6),), ("L4",))],
        [
            job("big", "a", devices=4, types=("H100",), created="2026-01-01T00:00:00Z"),
            job("l4", "a", devices=4, types=("L4",), created="2026-01-01T00:00:01Z"),
            job("small", "b", devices=1, types=("H100",)),
            job("other", "b", devices=1, types=("L4",)),
        ],
        admitted=[],
        waiting={name: "QuotaExhausted" for name in ("big", "l4", "small", "other")},
    ),
    HoldBack(
        "the queue's own smaller job may take it",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4)],
        [
            job("big", "a", devices=4, types=("H100",), created="2026-01-01T00:00:00Z"),
            job("mine", "a", devices=1, types=("H100",), created="2026-01-01T00:00:01Z"),
            job("small", "b", devices=1, types=("H100",)),
        ],
        admitted=["mine"],
        waiting={"big": "QuotaExhausted", "small": "QuotaExhausted"},
    ),
    HoldBack(
        "another type is not held back",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4)],
        [job("big", "a", devices=4, types=("H100",)), job("small", "b", devices=1, types=("L4",))],
        admitted=["small"],
        waiting={"big": "QuotaExhausted"},
    ),
    HoldBack(
        "a job within its queue's nominal quota is never held back",
        {
            "pool": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 6}]},
            "a": borrower(),
            "b": {"cohort": "c", "quotas": [{"resource": "H100", "nominal": 4}]},
            "c": borrower(),
        },
        [h100("a", 1), h100("b", 3), h100("c", 3)],
        [
            job("big", "a", devices=5, types=("H100",)),
            job("own", "b", devices=1, types=("H100",)),
            job("more", "c", devices=1, types=("H100",)),
        ],
        admitted=["own"],
        waiting={"big": "QuotaExhausted", "more": "QuotaExhausted"},
    ),
    HoldBack(
        "nothing is held for a job that would not fit even if nobody else borrowed",
        {
            "pool": ONE_POOL,
            "a": borrower(quotas=[{"resource": "H100", "nominal": 0, "borrowingLimit": 3}]),
            "b": borrower(),
        },
        [h100("a", 2), h100("b", 4)],
        [
            job("big", "a", devices=4, types=("H100",)),
            job("small", "b", devices=1, types=("H100",)),
        ],
        admitted=["small"],
        waiting={"big": "QuotaExhausted"},
    ),
    HoldBack(
        "nothing is held for a job larger than all the cohort lends",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4)],
        [
            job("big", "a", devices=9, types=("H100",)),
            job("small", "b", devices=1, types=("H100",)),
        ],
        admitted=["small"],
        waiting={"big": "QuotaExhausted"},
    ),
    HoldBack(
        "the queue with the higher share holds nothing back from the lower one",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 4)],
        [
            job("small", "a", devices=1, types=("H100",)),
            job("big", "b", devices=4, types=("H100",)),
        ],
        admitted=["small"],
        waiting={"big": "QuotaExhausted"},
    ),
    HoldBack(
        "the room gathered goes to the job it was held for",
        {"pool": ONE_POOL, "a": borrower(), "b": borrower()},
        [h100("a", 2), h100("b", 2)],
        [
            job("big", "a", devices=4, types=("H100",)),
            job("small", "b", devices=1, types=("H100",)),
        ],
        admitted=["big"],
        waiting={"small": "QuotaExhausted"},
    ),
]


@pytest.mark.parametrize("case", HOLD_BACKS, ids=[c.name for c in HOLD_BACKS])
def test_a_job_of_the_lower_share_holds_back_what_others_would_borrow(case: HoldBack) -> None:
    book = QuotaBook({n: spec(**q) for n, q in case.queues.items()}, case.held)
    result = admission_cycle(book, case.pending, TYPES)
    assert sorted(k[1] for k in result.admitted) == sorted(case.admitted)
    assert {k[1]: w.reason for k, w in result.waiting.items()} == case.waiting
    if case.message_has:
        messages = " | ".join(w.message for w in result.waiting.values())
        assert case.message_has in messages, messages
