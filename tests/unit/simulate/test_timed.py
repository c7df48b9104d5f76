"""`suanli simulate timed`: a big gang behind a stream of small jobs waits far longer under
greedy admission than under EASY backfill, which starts it at its reservation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from suanli.cli import main
from suanli.configfiles import ScoringConfigFiles
from suanli.simulate.timed import GPUS_PER_NODE, TimedJob, generate_jobs, simulate

FILES = ScoringConfigFiles(None, None)
MIN = 60.0


def _stream() -> list[TimedJob]:
    """Four 10-minute fillers, a whole-fleet gang a second later, then 1-GPU jobs of 20
    minutes every minute for 20 minutes."""
    fillers = [TimedJob(f"f{i}", 0.0, 1, 1, 10 * MIN, 10 * MIN) for i in range(4)]
    gang = TimedJob("gang", 1.0, 4, GPUS_PER_NODE, 5 * MIN, 5 * MIN)
    stream = [TimedJob(f"s{k:02d}", 2.0 + k * MIN, 1, 1, 20 * MIN, 20 * MIN) for k in range(20)]
    return [*fillers, gang, *stream]


@dataclass(frozen=True)
class Case:
    policy: str
    gang_starts_by: float | None  # seconds; None: later than the stream's end
    gang_starts_after: float


CASES = (
    Case("backfill", gang_starts_by=10 * MIN, gang_starts_after=10 * MIN - 1),
    Case("greedy", gang_starts_by=None, gang_starts_after=30 * MIN),
)


@pytest.mark.parametrize("case", CASES, ids=[c.policy for c in CASES])
def test_a_gang_behind_a_stream_of_small_jobs(case: Case) -> None:
    result = simulate(case.policy, 4, _stream(), FILES.catalog, FILES.latency)
    gang = next(o for o in result.outcomes if o.job.name == "gang")
    assert gang.start is not None
    assert gang.start >= case.gang_starts_after
    if case.gang_starts_by is not None:
        assert gang.start <= case.gang_starts_by
        # Its estimate on arrival was its reservation: when the fillers end by their limits.
        assert gang.estimate == pytest.approx(10 * MIN)
    assert all(o.start is not None for o in result.outcomes)
    summary = result.summary()
    assert summary["largest_gang_gpus"] == 4 * GPUS_PER_NODE
    assert summary["largest_gang_max_wait_min"] == pytest.approx((gang.start - 1.0) / MIN, abs=0.01)


def test_generated_streams_ask_for_the_load_given() -> None:
    jobs = generate_jobs(300, 8, seed=3, load=1.2)
    span = jobs[-1].arrival
    work = sum(j.size * j.duration for j in jobs)
    assert work / (span * 8 * GPUS_PER_NODE) == pytest.approx(1.2, rel=0.05)
    assert all(j.duration <= j.limit for j in jobs)
    assert [j.arrival for j in jobs] == sorted(j.arrival for j in jobs)


def test_the_command_writes_a_table_and_json_for_both_policies(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        ["simulate", "timed", "--nodes", "4", "--jobs", "30", "--out", str(out), "--no-plot"]
    )
    assert code == 0
    data = json.loads((out / "timed.json").read_text())
    assert [p["policy"] for p in data["policies"]] == ["greedy", "backfill"]
    assert all(p["started"] == 30 for p in data["policies"])
    assert "largest gang wait min" in (out / "timed.txt").read_text()
