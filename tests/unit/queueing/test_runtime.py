"""A job's run times under its queue: its own first, then the queue's defaults and maximum, then
the queue's history of succeeded jobs' run times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.api import RunPolicy
from suanli.api.queues import Runtime, RuntimeHistory
from suanli.queueing.runtime import HISTORY_WINDOW, RunLimits, record_run, run_limits

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
# 30 minutes on average over 4 succeeded jobs.
HISTORY = {"jobs": 4, "meanSeconds": 1800.4, "lastFinished": "2026-12-01T11:00:00Z"}


@dataclass(frozen=True)
class Case:
    name: str
    policy: dict[str, Any]
    runtime: dict[str, Any] | None
    limit: int | None
    expected: int | None
    limit_source: str = ""
    expected_source: str = ""
    refused: bool = False
    history: dict[str, Any] | None = None


CASES = (
    Case("nothing anywhere", {}, None, None, None),
    Case("own limit, expected from it", {"timeLimit": "1h"}, None, 3600, 3600),
    Case(
        "own limit and expected",
        {"timeLimit": "1h", "expectedRuntime": "20m"},
        None,
        3600,
        1200,
    ),
    Case("expected alone", {"expectedRuntime": "20m"}, None, None, 1200),
    Case(
        "queue default limit",
        {},
        {"defaultTimeLimit": "2h", "maxTimeLimit": "8h"},
        7200,
        7200,
        "queue q's defaultTimeLimit",
        "queue q's defaultTimeLimit",
    ),
    Case(
        "queue maximum when it has no default",
        {},
        {"maxTimeLimit": "8h"},
        28800,
        28800,
        "queue q's maxTimeLimit",
        "queue q's maxTimeLimit",
    ),
    Case(
        "queue default expected run time, no limit anywhere",
        {},
        {"defaultExpectedRuntime": "45m"},
        None,
        2700,
        "",
        "queue q's defaultExpectedRuntime",
    ),
    Case(
        "the queue's history, with nothing else anywhere",
        {},
        None,
        None,
        1800,
        "",
        "queue q's history: mean run time 30m1s of its 4 succeeded jobs",
        history=HISTORY,
    ),
    Case(
        "the queue's history also when its runtime sets only a maximum",
        {},
        {"maxTimeLimit": "8h"},
        28800,
        28800,
        "queue q's maxTimeLimit",
        "queue q's maxTimeLimit",
        history=HISTORY,
    ),
    Case(
        "the queue's default expected run time before its history",
        {},
        {"defaultExpectedRuntime": "45m"},
        None,
        2700,
        "",
        "queue q's defaultExpectedRuntime",
        history=HISTORY,
    ),
    Case(
        "the job's own expected run time before the history",
        {"expectedRuntime": "20m"},
        None,
        None,
        1200,
        history=HISTORY,
    ),
    Case(
        "a long history says it weighs the recent jobs",
        {},
        None,
        None,
        60,
        "",
        "queue q's history: mean run time 1m of its recent succeeded jobs (500 in all)",
        history={"jobs": 500, "meanSeconds": 60.0, "lastFinished": "2026-12-01T11:00:00Z"},
    ),
    Case("own limit within the maximum", {"timeLimit": "8h"}, {"maxTimeLimit": "8h"}, 28800, 28800),
    Case(
        "own limit over the maximum",
        {"timeLimit": "9h"},
        {"maxTimeLimit": "8h"},
        32400,
        32400,
        refused=True,
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_limits(case: Case) -> None:
    runtime = Runtime.model_validate(case.runtime) if case.runtime is not None else None
    history = RuntimeHistory.model_validate(case.history) if case.history is not None else None
    found = run_limits(RunPolicy.model_validate(case.policy), "q", runtime, history)
    assert (found.time_limit, found.expected) == (case.limit, case.expected)
    assert (found.limit_source, found.expected_source) == (case.limit_source, case.expected_source)
    assert (found.refusal is not None) is case.refused
    if case.refused:
        assert found.refusal is not None
        assert "spec.runPolicy.timeLimit 9h" in found.refusal
        assert "spec.runtime.maxTimeLimit" in found.refusal


def test_the_planned_run_time_is_the_expected_one_else_the_limit() -> None:
    assert RunLimits(3600, 600).planned == 600
    assert RunLimits(3600, None).planned == 3600
    assert RunLimits().planned is None
    assert RunLimits(5400).time_limit_text == "1h30m"


@dataclass(frozen=True)
class RunCase:
    name: str
    runs: tuple[float, ...]  # minutes, in the order the jobs finished
    jobs: int
    mean_seconds: float


RUNS = (
    RunCase("the first run is the mean", (10,), 1, 600),
    RunCase("a plain mean of the first runs", (10, 20, 30), 3, 1200),
    RunCase(
        "past the window, a new run moves the mean by a window's share of the difference",
        (10,) * HISTORY_WINDOW + (10 + HISTORY_WINDOW,),
        HISTORY_WINDOW + 1,
        600 + 60,
    ),
    RunCase(
        "old runs fade: after many short ones, a long past weighs little",
        (600,) * 5 + (1,) * 200,
        205,
        60,  # within a second of the recent runs' minute
    ),
)


@pytest.mark.parametrize("case", RUNS, ids=[c.name for c in RUNS])
def test_record_run(case: RunCase) -> None:
    history = None
    for index, minutes in enumerate(case.runs):
        finished = T0 + dt.timedelta(hours=index)
        history = record_run(history, finished - dt.timedelta(minutes=minutes), finished)
    assert history is not None
    assert history.jobs == case.jobs
    assert history.mean_seconds == pytest.approx(case.mean_seconds, abs=1)
    assert history.last_finished == T0 + dt.timedelta(hours=len(case.runs) - 1)
    # What the queue's status carries reads back the same.
    dumped = history.model_dump(mode="json", by_alias=True)
    assert RuntimeHistory.model_validate(dumped) == history
