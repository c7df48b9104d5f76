"""The total's resolution, the integer score it gives and the tie rank of equal totals."""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

import pytest

from suanli.scoring.combine import TOTAL_STEPS, resolved, round_score, tie_rank, weighted_total


@dataclass(frozen=True)
class ResolvedCase:
    mean: float
    total: float


@pytest.mark.parametrize(
    "case",
    [
        ResolvedCase(mean=0.0, total=0.0),
        ResolvedCase(mean=0.123456, total=0.12),
        ResolvedCase(mean=0.129999, total=0.12),
        ResolvedCase(mean=0.13, total=0.13),
        ResolvedCase(mean=0.29, total=0.29),  # 0.29 * 100 is 28.999999999999996 in floats
        ResolvedCase(mean=0.8499, total=0.84),
        ResolvedCase(mean=1.0, total=1.0),
        ResolvedCase(mean=1.7, total=1.0),
        ResolvedCase(mean=-0.2, total=0.0),
        ResolvedCase(mean=-0.0, total=0.0),
        ResolvedCase(mean=math.inf, total=1.0),
        ResolvedCase(mean=-math.inf, total=0.0),
        ResolvedCase(mean=math.nan, total=0.0),  # as min(1, max(0, nan)) gives
    ],
    ids=lambda c: f"{c.mean}",
)
def test_resolved(case: ResolvedCase) -> None:
    assert resolved(case.mean) == case.total


def test_resolved_never_decreases_and_keeps_the_integer_score() -> None:
    rng = random.Random(5)
    means = sorted(
        [rng.random() for _ in range(5000)] + [k / 200 for k in range(201)] + [0.15, 0.45, 0.85]
    )
    totals = [resolved(m) for m in means]
    assert totals == sorted(totals)
    assert all(abs(t - m) < 1 / TOTAL_STEPS + 1e-12 for t, m in zip(totals, means, strict=True))
    for mean, total in zip(means, totals, strict=True):
        assert round_score(total) == round_score(mean), mean


def test_weighted_total_is_resolved() -> None:
    weights = {"accelerator": 4, "hpc": 2, "locality": 3, "cost": 1, "packing": 2}
    values = {"accelerator": 1.0, "hpc": 1.0, "locality": 1.0, "cost": 0.61, "packing": 0.503}
    mean = (4 + 2 + 3 + 0.61 + 2 * 0.503) / 12
    assert weighted_total(weights, values) == resolved(mean) == 0.88


def test_tie_rank_is_a_fixed_hash_of_the_name() -> None:
    names = [f"a100x8-{i:04d}" for i in range(6)]
    assert [tie_rank(n) for n in names] == [zlib.crc32(n.encode()) for n in names]
    assert tie_rank("h100-use1-2") < tie_rank("h100-use1-3") < tie_rank("h100-use1-0")
    # Not the alphabet's order.
    assert sorted(names, key=tie_rank) != names
