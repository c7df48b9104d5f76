"""The timeline: when capacity frees up, on which nodes, from running jobs' ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from suanli.state.timeline import RunningJob, moments, released_until, timeline, unending
from tests.unit.state.timefleet import NOW, feed_of, minutes


@dataclass(frozen=True)
class Case:
    name: str
    running: tuple[RunningJob, ...]
    releases: tuple[tuple[dt.datetime, str, tuple[str, ...]], ...]  # (at, job, nodes)
    unending: tuple[str, ...] = ()


PODS = {
    "a": ("h100-use1-0", 8),
    "b": ("h100-use1-1", 4),
    "b2": ("h100-use1-2", 4),
    "c": ("h100-use1-3", 2),
}


def job(name: str, ends: dt.datetime | None, *pods: str) -> RunningJob:
    return RunningJob(f"team/{name}", tuple(f"team/{p}" for p in pods or (name,)), ends)


CASES = (
    Case("nothing runs", (), ()),
    Case(
        "in order of their ends, each with its nodes",
        (job("a", minutes(10)), job("b", minutes(5), "b", "b2")),
        (
            (minutes(5), "team/b", ("h100-use1-1", "h100-use1-2")),
            (minutes(10), "team/a", ("h100-use1-0",)),
        ),
    ),
    Case(
        "an end already passed releases now",
        (job("a", minutes(-3)),),
        ((NOW, "team/a", ("h100-use1-0",)),),
    ),
    Case(
        "a job without a run time never releases",
        (job("c", None), job("a", minutes(1))),
        ((minutes(1), "team/a", ("h100-use1-0",)),),
        ("team/c",),
    ),
    Case("pods the state does not hold free nothing", (job("gone", minutes(1)),), ()),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_timeline(case: Case) -> None:
    state = feed_of(PODS).state
    found = timeline(state, case.running, NOW)
    assert [(r.at, r.job, r.nodes) for r in found] == list(case.releases)
    assert tuple(unending(state, case.running)) == case.unending


def test_released_until_rolls_back_and_names_the_jobs() -> None:
    state = feed_of(PODS).state
    releases = timeline(state, (job("a", minutes(10)), job("b", minutes(5), "b", "b2")), NOW)
    assert moments(releases) == [minutes(5), minutes(10)]
    with released_until(state, releases, minutes(7)) as gone:
        assert gone == ["team/b"]
        assert "team/b" not in state.pods
        assert "team/a" in state.pods
    assert {"team/a", "team/b", "team/b2"} <= set(state.pods)
