"""Budgets: a price-per-hour ceiling and a spend limit per period, in admission and accounting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.queueing import Charge, Holder, QuotaBook, admission_cycle
from suanli.queueing.budget import SpendState, budget_victims, charged, period_start
from tests.unit.queueing.test_admission_cycle import TYPES, job, spec

PRICES = {"H100": 10.0, "A100": 2.0, "L4": 1.0}
T = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
DAY = 86400.0


def test_periods_start_at_whole_multiples_since_the_epoch() -> None:
    assert period_start(T, DAY) == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    assert period_start(T, 3600 * 6) == dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Charging:
    name: str
    before: SpendState | None
    now: dt.datetime
    spent: float


CHARGING = [
    Charging("the first accounting starts from nothing", None, T, 0.0),
    Charging(
        "what ran since the last accounting is charged at its price",
        SpendState(period_start(T, DAY), 5.0, 10.0, T),
        T + dt.timedelta(minutes=30),
        10.0,
    ),
    Charging(
        "a new period charges only its own part of the interval",
        SpendState(period_start(T, DAY), 500.0, 10.0, dt.datetime(2026, 3, 10, 23, tzinfo=dt.UTC)),
        dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC),
        5.0,
    ),
]


@pytest.mark.parametrize("case", CHARGING, ids=[c.name for c in CHARGING])
def test_charging(case: Charging) -> None:
    after = charged(case.before, case.now, DAY, 3.0)
    assert after.spent == pytest.approx(case.spent)
    assert after.price_per_hour == 3.0
    assert after.accounted_at == case.now


def _holder(name: str, priority: int, admitted_at: str = "2026-01-01T00:00:00Z") -> Holder:
    return Holder("ns", name, Charge("a", (("H100", 8.0),), ("H100",)), priority, admitted_at)


def test_budget_victims_are_the_fewest_of_the_lowest_priority_until_the_money_lasts() -> None:
    running = [(_holder("high", 9), 40.0), (_holder("low", 0), 40.0), (_holder("mid", 5), 40.0)]
    # 950 spent of 1000; 120/h for half an hour is 60: one job of 40/h must stop.
    assert [h.name for h in budget_victims(running, 950.0, 1000.0, 0.5)] == ["low"]
    assert budget_victims(running, 900.0, 1000.0, 0.5) == []
    # Spent already: everything that costs stops.
    assert {h.name for h in budget_victims(running, 1000.0, 1000.0, 0.5)} == {"low", "mid", "high"}


@dataclass(frozen=True)
class Case:
    name: str
    budget: dict[str, Any]
    spent: float
    jobs: list[tuple[str, int]]  # (name, H100/A100 devices), in order
    admitted: dict[str, tuple[str, ...]]
    waiting: dict[str, str] = field(default_factory=dict)


CASES = [
    Case(
        name="the price ceiling sends a job to a cheaper accepted type, then holds the next",
        budget={"maxPricePerHour": 100},
        spent=0.0,
        jobs=[("one", 8), ("two", 8), ("three", 8)],
        admitted={"one": ("H100",), "two": ("A100",)},
        waiting={"three": "BudgetExhausted"},
    ),
    Case(
        name="a spent budget holds what would cost more before the next accounting",
        budget={"spend": {"limit": 1000, "period": "24h"}},
        spent=990.0,
        jobs=[("dear", 8)],
        admitted={"dear": ("A100",)},
    ),
    Case(
        name="nothing is admitted once the spend is used up",
        budget={"spend": {"limit": 1000, "period": "24h"}},
        spent=999.0,
        jobs=[("late", 8)],
        admitted={},
        waiting={"late": "BudgetExhausted"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_budget_admission(case: Case) -> None:
    queue = spec(
        budget=case.budget,
        quotas=[{"resource": "H100", "nominal": 64}, {"resource": "A100", "nominal": 64}],
    )
    book = QuotaBook({"a": queue}, [], spent={"a": case.spent}, accounting_hours=0.5)
    pending = [
        job(name, "a", devices=float(d), types=("H100", "A100"), created=f"2026-01-01T00:00:0{i}Z")
        for i, (name, d) in enumerate(case.jobs)
    ]
    result = admission_cycle(book, pending, TYPES, prices=PRICES)
    assert {k[1]: a.charge.accelerator_types for k, a in result.admitted.items()} == case.admitted
    assert {k[1]: w.reason for k, w in result.waiting.items()} == case.waiting


# --- the bound, over random arrivals: admission, accounting and stopping together -------------


INTERVAL_HOURS = 0.5


@given(
    arrivals=st.lists(
        st.lists(st.tuples(st.integers(1, 8), st.integers(0, 3)), max_size=4),
        min_size=1,
        max_size=30,
    ),
    limit=st.integers(10, 400),
    ceiling=st.one_of(st.none(), st.integers(10, 200)),
)
@settings(max_examples=150, deadline=None)
def test_a_budget_is_never_overspent_by_more_than_one_job_for_one_interval(
    arrivals: list[list[tuple[int, int]]], limit: int, ceiling: int | None
) -> None:
    budget: dict[str, Any] = {"spend": {"limit": float(limit), "period": "30d"}}
    if ceiling is not None:
        budget["maxPricePerHour"] = float(ceiling)
    queue = {"a": spec(budget=budget, quotas=[{"resource": "H100", "nominal": 1000}])}
    running: list[tuple[Holder, float]] = []
    spend: SpendState | None = None
    real = 0.0
    dearest = 0.0
    now = T
    for step, batch in enumerate(arrivals):
        # Accounting: charge, then stop what the money would not last for.
        price = sum(p for _, p in running)
        spend = charged(spend, now, 30 * DAY, price)
        stopped = budget_victims(running, spend.spent, float(limit), INTERVAL_HOURS)
        running = [(h, p) for h, p in running if h not in stopped]
        spend = SpendState(spend.period_start, spend.spent, sum(p for _, p in running), now)
        # Admission, between two accountings.
        book = QuotaBook(
            queue,
            [h.charge for h, _ in running],
            spent={"a": spend.spent},
            accounting_hours=INTERVAL_HOURS,
        )
        pending = [
            job(
                f"j{step}-{i}",
                "a",
                devices=float(d),
                types=("H100",),
                priority=p,
                created=f"{step:04d}{i}",
            )
            for i, (d, p) in enumerate(batch)
        ]
        for key, admitted in admission_cycle(book, pending, TYPES, prices=PRICES).admitted.items():
            cost = dict(admitted.charge.amounts).get("pricePerHour", 0.0)
            dearest = max(dearest, cost)
            running.append((Holder(key[0], key[1], admitted.charge, 0, f"{step:04d}"), cost))
        if ceiling is not None:
            assert sum(p for _, p in running) <= ceiling + 1e-9
        # What truly runs until the next accounting.
        real += sum(p for _, p in running) * INTERVAL_HOURS
        now += dt.timedelta(hours=INTERVAL_HOURS)
    assert real <= limit + dearest * INTERVAL_HOURS + 1e-6
