"""Reservations, EASY backfill and estimates on four 8-GPU nodes, as what-ifs on one state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from suanli.state.backfill import BEHIND_RESERVATION, backfill, estimates, never_fits
from suanli.state.earliest import Candidate, earliest_start
from suanli.state.timeline import RunningJob, timeline
from tests.unit.state.timefleet import NODES, NOW, candidate, feed_of, minutes, planner

# r0 holds node 0 for 30 minutes, r1 half of node 1 for 10: a 4 x 8 gang fits in 30 minutes.
BUSY = {"r0": ("h100-use1-0", 8), "r1": ("h100-use1-1", 4)}
BUSY_ENDS = {"r0": minutes(30), "r1": minutes(10)}
GANG = candidate("gang", 4, 8, limit=3600)


@dataclass(frozen=True)
class Case:
    name: str
    running: dict[str, tuple[str, int]]
    ends: dict[str, dt.datetime | None]
    ahead: tuple[Candidate, ...]
    job: Candidate
    admitted: bool
    code: str = ""


CASES = (
    Case("nothing waits ahead: it starts", BUSY, BUSY_ENDS, (), candidate("s", 1, 1), True),
    Case(
        "ends before the reservation by its limit: backfilled",
        BUSY,
        BUSY_ENDS,
        (GANG,),
        candidate("s", 1, 1, limit=20 * 60),
        True,
    ),
    Case(
        "no time limit, on room the gang needs: waits",
        BUSY,
        BUSY_ENDS,
        (GANG,),
        candidate("s", 1, 1),
        False,
        BEHIND_RESERVATION,
    ),
    Case(
        "a limit past the reserved start: waits",
        BUSY,
        BUSY_ENDS,
        (GANG,),
        candidate("s", 1, 1, limit=40 * 60),
        False,
        BEHIND_RESERVATION,
    ),
    Case(
        "room the reservation does not need: backfilled without a limit",
        {
            "r0": ("h100-use1-0", 8),
            "r1": ("h100-use1-1", 8),
            "r2": ("h100-use1-2", 8),
            "r3": ("h100-use1-3", 4),
        },
        {"r0": minutes(30), "r1": minutes(30), "r2": minutes(60), "r3": None},
        (candidate("pair", 2, 8, limit=3600),),
        candidate("s", 1, 1),
        True,
    ),
    Case(
        "a job ahead that fits now keeps its room: the one behind does not fit",
        BUSY,
        BUSY_ENDS,
        (candidate("two", 2, 8, limit=600),),
        candidate("s", 1, 8, limit=60),
        False,
        "Unschedulable",
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_backfill(case: Case) -> None:
    feed = feed_of(case.running)
    running = [RunningJob(f"team/{n}", (f"team/{n}",), e) for n, e in case.ends.items()]
    before = dict(feed.state.pods)
    admission = backfill(
        planner(feed), case.ahead, case.job, timeline(feed.state, running, NOW), NOW
    )
    assert admission.admitted is case.admitted, admission.reason
    if case.code:
        assert admission.code == case.code
    if case.code == BEHIND_RESERVATION:
        assert "team/gang is reserved to start at 2026-11-25T12:30:00Z" in admission.reason
    # Every trial was rolled back.
    assert feed.state.pods == before


def test_the_reservation_is_the_earliest_release_after_which_the_gang_fits() -> None:
    feed = feed_of(BUSY)
    running = [RunningJob(f"team/{n}", (f"team/{n}",), e) for n, e in BUSY_ENDS.items()]
    estimate = earliest_start(planner(feed), GANG, timeline(feed.state, running, NOW), NOW)
    assert estimate.start == minutes(30)
    assert sorted(estimate.plan.values()) == sorted(NODES)
    assert estimate.waits_for == ("team/r1", "team/r0")


def test_no_estimate_while_the_room_is_held_by_jobs_without_a_run_time() -> None:
    feed = feed_of(BUSY)
    running = [RunningJob("team/r0", ("team/r0",), None), RunningJob("team/r1", ("team/r1",), None)]
    estimate = earliest_start(planner(feed), GANG, timeline(feed.state, running, NOW), NOW)
    assert estimate.start is None
    assert "only 2 fit now" in estimate.reason


def test_estimates_place_each_waiting_job_after_those_ahead() -> None:
    feed = feed_of(BUSY)
    running = [RunningJob(f"team/{n}", (f"team/{n}",), e) for n, e in BUSY_ENDS.items()]
    small = candidate("small", 1, 8, expected=600)
    found = estimates(planner(feed), (GANG, small), timeline(feed.state, running, NOW), NOW)
    assert found["team/gang"].start == minutes(30)
    # The gang holds every node until it ends (its limit, an hour after its start).
    assert found["team/small"].start == minutes(90)
    assert found["team/small"].waits_for[-1] == "team/gang"


def test_never_fits_says_why_and_fits_on_an_empty_fleet() -> None:
    feed = feed_of(BUSY)
    assert never_fits(planner(feed), GANG) is None
    reason = never_fits(planner(feed), candidate("huge", 5, 8))
    assert reason is not None
    assert "only 4 fit" in reason
    assert set(feed.state.pods) == {"team/r0", "team/r1"}


@pytest.mark.parametrize("probes", [1000, 24, 5, 2], ids=lambda n: f"{n} probes")
def test_the_earliest_start_among_many_releases_is_exact_whatever_the_probes(
    probes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 32 one-GPU jobs; node k's eight end at minutes 8k+1 .. 8k+8.
    running = {f"p{i:02d}": (NODES[i // 8], 1) for i in range(32)}
    feed = feed_of(running)
    jobs = [RunningJob(f"team/{n}", (f"team/{n}",), minutes(i + 1)) for i, n in enumerate(running)]
    releases = timeline(feed.state, jobs, NOW)
    monkeypatch.setattr("suanli.state.earliest.MAX_PROBES", probes)
    found = {
        size: earliest_start(planner(feed), candidate(f"n{size}", size, 8), releases, NOW)
        for size in (1, 2, 4)
    }
    assert {size: e.start for size, e in found.items()} == {
        1: minutes(8),
        2: minutes(16),
        4: minutes(32),
    }
    assert found[1].waits_for == tuple(f"team/p{i:02d}" for i in range(8))
    assert set(feed.state.pods) == {f"team/{n}" for n in running}


def test_estimates_keep_known_ones_and_make_at_most_the_budget_in_order() -> None:
    feed = feed_of(BUSY)
    running = [RunningJob(f"team/{n}", (f"team/{n}",), e) for n, e in BUSY_ENDS.items()]
    releases = timeline(feed.state, running, NOW)
    line = (GANG, candidate("a", 1, 8, expected=600), candidate("b", 1, 8, expected=600))
    every = estimates(planner(feed), line, releases, NOW)
    # The gang's estimate is known: only the next one is made, behind it, as in the full pass.
    some = estimates(
        planner(feed), line, releases, NOW, known={"team/gang": every["team/gang"]}, budget=1
    )
    assert set(some) == {"team/gang", "team/a"}
    assert some["team/a"] == every["team/a"]


@dataclass(frozen=True)
class LineCase:
    name: str
    ahead: int  # one-GPU jobs ahead that fit now (admitted together, none reconciled yet)


LINES = (LineCase("a short line", 4), LineCase("a line six times as long", 24))


@pytest.mark.parametrize("case", LINES, ids=[c.name for c in LINES])
def test_jobs_ahead_that_fit_now_are_placed_once_each_not_once_per_job_behind(
    case: LineCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each job ahead that fits now is promised its room before the next is planned. The
    pods promised are placed once each in the reservation's trial, not again for every job
    after them: the pods set grow with the line, not with its square."""
    feed = feed_of({})
    ahead = tuple(candidate(f"a{i}", 1, 1) for i in range(case.ahead))
    calls = 0
    set_pod = type(feed.state).set_pod

    def counted(self: object, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return set_pod(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(feed.state), "set_pod", counted)
    admission = backfill(planner(feed), ahead, candidate("s", 1, 1), [], NOW)
    assert admission.admitted
    # Per job ahead: placed, rolled back, and placed again for the plan of the job behind.
    assert calls <= 4 * case.ahead + 8
