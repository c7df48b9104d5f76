"""Several variants side by side: the table, one policy against another, the target."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.simulate import compare
from suanli.simulate.results import SeedResult
from suanli.simulate.run import RunResult, RunSpec
from tests.unit.simulate.conftest import SMALL_NODES, share


def _run(per_policy: dict[str, list[tuple[float, float]]]) -> RunResult:
    """A run whose seeds 1, 2, ... left these (unallocated %, seconds) per policy."""
    seeds = tuple(range(1, 1 + len(next(iter(per_policy.values())))))
    spec = RunSpec(SMALL_NODES, (share("p", 500),), tuple(per_policy), seeds)
    run = RunResult(spec)
    for policy, figures in per_policy.items():
        for seed, (unallocated, seconds) in zip(seeds, figures, strict=True):
            run.results.append(
                SeedResult(
                    policy,
                    seed,
                    seconds=seconds,
                    cpu_seconds=seconds / 4,
                    unallocated={100: unallocated},
                )
            )
    return run


@dataclass(frozen=True)
class AgainstCase:
    name: str
    mine: list[tuple[float, float]]
    theirs: list[tuple[float, float]]
    fewer_pct: float
    seeds_worse: int
    time_ratio: float
    met: bool


CASES = [
    AgainstCase(
        "better everywhere",
        mine=[(0.8, 2.0), (0.9, 2.0)],
        theirs=[(1.0, 4.0), (1.0, 4.0)],
        fewer_pct=15.0,
        seeds_worse=0,
        time_ratio=0.5,
        met=True,
    ),
    AgainstCase(
        "better on the mean, worse on three seeds",
        mine=[(1.1, 1.0), (1.1, 1.0), (1.1, 1.0), (0.1, 1.0)],
        theirs=[(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0)],
        fewer_pct=15.0,
        seeds_worse=3,
        time_ratio=1.0,
        met=False,
    ),
    AgainstCase(
        "better but too slow",
        mine=[(0.5, 9.0)],
        theirs=[(1.0, 4.0)],
        fewer_pct=50.0,
        seeds_worse=0,
        time_ratio=2.25,
        met=False,
    ),
    AgainstCase(
        "a tie is not enough",
        mine=[(1.0, 1.0)],
        theirs=[(1.0, 1.0)],
        fewer_pct=0.0,
        seeds_worse=0,
        time_ratio=1.0,
        met=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_against(case: AgainstCase) -> None:
    run = _run({"suanli": case.mine, "fgd": case.theirs})
    found = compare.against(run, "suanli", "fgd")
    assert found.fewer_pct == pytest.approx(case.fewer_pct)
    assert found.seeds_worse == case.seeds_worse
    assert found.seeds == len(case.mine)
    assert found.time_ratio == pytest.approx(case.time_ratio)
    assert compare.Target().met(found) is case.met
    verdict = compare.verdicts({"v": run}, "suanli", "fgd", compare.Target())["v"]
    assert verdict["met"] is case.met
    assert verdict["seeds_worse"] == case.seeds_worse


def test_table_has_one_row_per_variant_and_a_column_per_policy() -> None:
    runs = {
        "prod": _run({"suanli": [(0.5, 2.0), (0.7, 2.0)], "fgd": [(1.0, 3.0), (1.0, 5.0)]}),
        "prod-share-80": _run({"suanli": [(2.0, 1.0), (2.0, 1.0)], "fgd": [(1.0, 1.0)] * 2}),
    }
    text = compare.table(runs, ("suanli", "fgd"), "fgd")
    header, rule, *rows = text.splitlines()
    assert [h.strip() for h in header.split(" | ")[1:]] == [
        "suanli unalloc %",
        "fgd unalloc %",
        "suanli s/seed",
        "fgd s/seed",
        "suanli CPU s/seed",
        "fgd CPU s/seed",
        "suanli vs fgd",
    ]
    assert set(rule) <= {"-", "+"}
    assert [r.split(" | ")[0].strip() for r in rows] == ["prod", "prod-share-80"]
    assert "0.60 ± 0.14" in rows[0]
    assert "4.0 ± 1.4" in rows[0]
    assert "1.00 ± 0.35" in rows[0]  # fgd's CPU seconds: a quarter of its wall clock here
    assert "+40.0% fewer, worse on 0/2, time x0.50" in rows[0]
    assert "-100.0% fewer, worse on 2/2, time x1.00" in rows[1]
    assert "vs" not in compare.table(runs, ("suanli", "fgd"), None)
