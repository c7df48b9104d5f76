"""A waiting job's estimate as status fields: what it says, and that it fits the status schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from suanli.api import ComputeJobStatus
from suanli.controller.estimates import MAX_BASIS, MAX_NODES, estimate_fields, reserved_head
from suanli.state.earliest import Estimate

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=25)


@dataclass(frozen=True)
class Case:
    name: str
    estimate: Estimate | None
    reserved: bool
    defaults: tuple[str, ...]
    unbounded: tuple[str, ...]
    start: dt.datetime | None
    basis: str | None  # a part of it


MANY = {f"p-{i}": f"node-{i:03d}" for i in range(100)}
CASES = (
    Case("not waiting", None, False, (), (), None, None),
    Case(
        "fits now",
        Estimate("team/a", NOW, {"a-0": "n1"}),
        False,
        (),
        (),
        NOW,
        "fits now",
    ),
    Case(
        "reserved, after two jobs, one on a queue default",
        Estimate("team/a", LATER, {"a-0": "n1"}, ("team/x", "team/y")),
        True,
        ("team/y (queue q's defaultExpectedRuntime)",),
        (),
        LATER,
        "once team/x, team/y end (reserved: jobs behind it start first only if they do not "
        "delay it); run times from queue defaults or history: team/y (queue q's defaultExpectedRuntime)",
    ),
    Case(
        "no estimate: room held by jobs without a run time",
        Estimate("team/a", None, reason="gang needs 4"),
        False,
        (),
        ("team/forever",),
        None,
        "held by team/forever frees, and they have no time limit",
    ),
    Case(
        "never fits: a long reason is cut to the schema's length",
        Estimate("team/a", None, reason="x" * 5000),
        False,
        (),
        (),
        None,
        "does not fit even once every running job ends",
    ),
    Case(
        "at most 64 nodes",
        Estimate("team/a", LATER, MANY, ("team/x",)),
        False,
        (),
        (),
        LATER,
        "once team/x end",
    ),
    Case(
        "approximate, behind the front of the line: no nodes, and it says so",
        Estimate("team/a", LATER, waits_for=("team/x", "team/y"), aggregated=True),
        False,
        ("team/y (queue q's defaultExpectedRuntime)",),
        (),
        LATER,
        "approximate (behind the first 100 waiting jobs, which are planned on nodes: the "
        "requests of the jobs ahead are added up per resource, not placed on nodes): once "
        "team/x, team/y and the jobs before them end; run times from queue defaults or history: team/y",
    ),
    Case(
        "approximate, fits now",
        Estimate("team/a", NOW, aggregated=True),
        False,
        (),
        (),
        NOW,
        "its requests fit the free room now",
    ),
    Case(
        "approximate, no estimate: names the jobs without a run time",
        Estimate(
            "team/a",
            None,
            reason="the room it needs is held by jobs without a run time",
            aggregated=True,
        ),
        False,
        (),
        ("team/forever",),
        None,
        "held by jobs without a run time (team/forever)",
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_estimate_fields(case: Case) -> None:
    fields = estimate_fields(
        case.estimate,
        NOW,
        reserved=case.reserved,
        defaults=case.defaults,
        unbounded=case.unbounded,
    )
    assert fields["estimated_start_time"] == case.start
    if case.basis is None:
        assert fields["estimate_basis"] is None
    else:
        assert case.basis in fields["estimate_basis"]
        assert len(fields["estimate_basis"]) <= MAX_BASIS
    assert len(fields["estimated_nodes"] or []) <= MAX_NODES
    if case.estimate is not None and case.estimate.aggregated:
        assert fields["estimated_nodes"] is None
    # What the operator writes passes the status schema.
    ComputeJobStatus.model_validate(fields)


@dataclass(frozen=True)
class Head:
    name: str
    waiting: tuple[str, ...]
    found: dict[str, Estimate]
    expected: str | None


HEADS = (
    Head("the first estimated to start later", ("a", "b"), {"a": Estimate("a", LATER)}, "a"),
    Head(
        "one starting now is not waited for",
        ("a", "b"),
        {"a": Estimate("a", NOW), "b": Estimate("b", LATER)},
        "b",
    ),
    Head("one that never starts is passed over", ("a", "b"), {"a": Estimate("a", None)}, None),
    Head(
        # The first jobs in line may have no estimate yet (a few are made per call).
        "jobs without an estimate are passed over",
        ("new", "a"),
        {"a": Estimate("a", LATER)},
        "a",
    ),
    Head("nobody waits", (), {}, None),
)


@pytest.mark.parametrize("case", HEADS, ids=[c.name for c in HEADS])
def test_reserved_head(case: Head) -> None:
    assert reserved_head(case.waiting, case.found, NOW) == case.expected
