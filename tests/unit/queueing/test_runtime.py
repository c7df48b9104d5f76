"""A job's run times under its queue: its own first, then the queue's defaults and maximum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.api import RunPolicy
from suanli.api.queues import Runtime
from suanli.queueing.runtime import RunLimits, run_limits


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
    found = run_limits(RunPolicy.model_validate(case.policy), "q", runtime)
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
