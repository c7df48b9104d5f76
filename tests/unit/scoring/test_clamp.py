"""A signal clamped to [0, 1]: the same float as min(1, max(0, value)), NaN as 0."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from suanli.scoring.scorers.signal import clamp


@dataclass(frozen=True)
class ClampCase:
    value: float
    clamped: float


@pytest.mark.parametrize(
    "case",
    [
        ClampCase(value=0.25, clamped=0.25),
        ClampCase(value=0.0, clamped=0.0),
        ClampCase(value=-0.0, clamped=0.0),
        ClampCase(value=1.0, clamped=1.0),
        ClampCase(value=1.5, clamped=1.0),
        ClampCase(value=-3.0, clamped=0.0),
        ClampCase(value=math.inf, clamped=1.0),
        ClampCase(value=-math.inf, clamped=0.0),
        ClampCase(value=math.nan, clamped=0.0),
    ],
    ids=lambda c: f"{c.value}",
)
def test_clamp(case: ClampCase) -> None:
    found = clamp(case.value)
    assert found == case.clamped
    assert math.copysign(1.0, found) == 1.0  # never -0.0
    if not math.isnan(case.value):
        assert found == min(1.0, max(0.0, case.value))
