"""The aggregated walk for the back of the waiting line: requests added up per pool, jobs in line
order on a forward-only clock; and the pools read from the one cluster state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from suanli.state.aggregate import (
    Occupant,
    Pooled,
    capacity,
    device_pool,
    occupants,
    pooled,
    walk,
)
from suanli.state.backfill import estimates
from suanli.state.earliest import Holding
from suanli.state.timeline import RunningJob, timeline
from tests.unit.state.timefleet import FILES, NOW, candidate, feed_of, minutes, planner

H100 = device_pool("H100")
A100 = device_pool("A100")
GPU = 1000  # milli-devices


def wants(job: str, gpus: int, runs: float | None = 600, pool: str = H100) -> Pooled:
    return Pooled(job, ({"cpu": 1000, pool: gpus * GPU},), runs)


@dataclass(frozen=True)
class Case:
    name: str
    pools: dict[str, int]
    holders: tuple[Occupant, ...]
    waiting: tuple[Pooled, ...]
    starts: dict[str, dt.datetime | None]
    waits_for: dict[str, tuple[str, ...]]  # for some jobs
    reasons: dict[str, str]  # a part of the reason, for jobs without a start


EIGHT = {"cpu": 64_000, H100: 8 * GPU}
CASES = (
    Case(
        name="fits now",
        pools=EIGHT,
        holders=(),
        waiting=(wants("a", 1),),
        starts={"a": NOW},
        waits_for={"a": ()},
        reasons={},
    ),
    Case(
        name="waits for the first end that makes room",
        pools=EIGHT,
        holders=(
            Occupant("x", {H100: 4 * GPU}, minutes(10)),
            Occupant("y", {H100: 4 * GPU}, minutes(20)),
        ),
        waiting=(wants("a", 2),),
        starts={"a": minutes(10)},
        waits_for={"a": ("x",)},
        reasons={},
    ),
    Case(
        name="in line order: a small job behind a big one starts after it, not in a gap before",
        pools=EIGHT,
        holders=(
            Occupant("x", {H100: 4 * GPU}, minutes(10)),
            Occupant("y", {H100: 4 * GPU}, minutes(20)),
        ),
        waiting=(wants("big", 8, runs=600), wants("small", 1, runs=60)),
        starts={"big": minutes(20), "small": minutes(30)},
        waits_for={"small": ("x", "y", "big")},
        reasons={},
    ),
    Case(
        name="each job holds its request for its expected run time",
        pools=EIGHT,
        holders=(),
        waiting=(wants("a", 8, runs=600), wants("b", 8, runs=600), wants("c", 4)),
        starts={"a": NOW, "b": minutes(10), "c": minutes(20)},
        waits_for={"c": ("a", "b")},
        reasons={},
    ),
    Case(
        name="the first accepted type with room, in order of preference",
        pools={"cpu": 64_000, H100: 8 * GPU, A100: 8 * GPU},
        holders=(Occupant("x", {H100: 8 * GPU}, minutes(60)),),
        waiting=(Pooled("a", ({H100: 8 * GPU}, {A100: 8 * GPU}), 600),),
        starts={"a": NOW},
        waits_for={},
        reasons={},
    ),
    Case(
        name="room held by a job without a run time: no estimate, and the line behind moves on",
        pools={"cpu": 64_000, H100: 16 * GPU},
        holders=(Occupant("forever", {H100: 8 * GPU}, None),),
        waiting=(wants("huge", 16), wants("small", 1)),
        starts={"huge": None, "small": NOW},
        waits_for={},
        reasons={"huge": "held by jobs without a run time"},
    ),
    Case(
        name="a waiting job without a run time holds its room for good",
        pools=EIGHT,
        holders=(),
        waiting=(wants("a", 8, runs=None), wants("b", 1)),
        starts={"a": NOW, "b": None},
        waits_for={},
        reasons={"b": "held by jobs without a run time"},
    ),
    Case(
        name="more than the whole fleet has",
        pools=EIGHT,
        holders=(),
        waiting=(wants("huge", 9), wants("a", 8)),
        starts={"huge": None, "a": NOW},
        waits_for={},
        reasons={"huge": "more than the whole fleet has"},
    ),
    Case(
        name="no pool of an accepted type",
        pools=EIGHT,
        holders=(),
        waiting=(Pooled("odd", (), 600),),
        starts={"odd": None},
        waits_for={},
        reasons={"odd": "no node has devices of a type"},
    ),
    Case(
        name="every resource counts: cpu runs out while devices are free",
        pools=EIGHT,
        holders=(Occupant("x", {"cpu": 64_000}, minutes(5)),),
        waiting=(wants("a", 1),),
        starts={"a": minutes(5)},
        waits_for={"a": ("x",)},
        reasons={},
    ),
    Case(
        name="a holder whose end has passed frees its room now",
        pools=EIGHT,
        holders=(Occupant("late", {H100: 8 * GPU}, NOW - dt.timedelta(minutes=3)),),
        waiting=(wants("a", 8),),
        starts={"a": NOW},
        waits_for={"a": ("late",)},
        reasons={},
    ),
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_walk(case: Case) -> None:
    found = walk(case.pools, case.holders, case.waiting, NOW)
    assert {job: e.start for job, e in found.items()} == case.starts
    assert all(e.aggregated and not e.plan for e in found.values())
    for job, names in case.waits_for.items():
        assert found[job].waits_for == names
    for job, reason in case.reasons.items():
        assert reason in found[job].reason


def test_the_line_is_one_pass_even_when_thousands_wait() -> None:
    # 3000 one-device jobs of 10 minutes on 8 devices: eight start every 10 minutes.
    line = [wants(f"j{i:04d}", 1) for i in range(3000)]
    found = walk(EIGHT, (), line, NOW)
    assert found["j0007"].start == NOW
    assert found["j0008"].start == minutes(10)
    assert found["j2999"].start == minutes(10 * (2999 // 8))


def test_the_pools_and_holders_are_read_from_the_state() -> None:
    feed = feed_of({"r0": ("h100-use1-0", 8), "r1": ("h100-use1-1", 4)})
    pools = capacity(feed.state)
    assert pools[H100] == 32 * GPU
    assert min(pools["pods"], pools["cpu"], pools["memory"]) > 0
    running = [RunningJob("team/r0", ("team/r0",), minutes(30))]
    held = occupants(feed.state, timeline(feed.state, running, NOW), ())
    # r1 has no run time: it holds its four devices for good.
    assert {(o.job, o.size.get(H100), o.ends) for o in held} == {
        ("team/r0", 8 * GPU, minutes(30)),
        ("team/r1", 4 * GPU, None),
    }
    gang = pooled(candidate("gang", 4, 8, limit=3600), pools, FILES.catalog)
    assert gang.runs == 3600
    assert [o.get(H100) for o in gang.options] == [32 * GPU]
    assert gang.options[0]["pods"] == 4


def test_a_promised_pod_counts_once_and_until_its_holding_ends() -> None:
    feed = feed_of({"r0": ("h100-use1-0", 8)})
    pod = feed.state.pods["team/r0"]
    held = occupants(feed.state, (), (Holding("team/r0", (pod,), minutes(15)),))
    assert [(o.job, o.size.get(H100), o.ends) for o in held] == [("team/r0", 8 * GPU, minutes(15))]


def test_on_whole_node_jobs_it_agrees_with_the_exact_walk() -> None:
    feed = feed_of({"r0": ("h100-use1-0", 8), "r1": ("h100-use1-1", 4)})
    running = [
        RunningJob("team/r0", ("team/r0",), minutes(30)),
        RunningJob("team/r1", ("team/r1",), minutes(10)),
    ]
    releases = timeline(feed.state, running, NOW)
    line = (candidate("gang", 4, 8, limit=3600), candidate("small", 1, 8, expected=600))
    exact = estimates(planner(feed), line, releases, NOW)
    pools = capacity(feed.state)
    aggregated = walk(
        pools,
        occupants(feed.state, releases, ()),
        [pooled(c, pools, FILES.catalog) for c in line],
        NOW,
    )
    assert {j: e.start for j, e in aggregated.items()} == {j: e.start for j, e in exact.items()}
    assert {j: e.start for j, e in exact.items()} == {
        "team/gang": minutes(30),
        "team/small": minutes(90),
    }
