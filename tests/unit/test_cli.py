"""Command-line values: durations as kube-scheduler's configuration writes them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from suanli.extender.command import parse_duration


@dataclass(frozen=True)
class Case:
    text: str
    seconds: float


@pytest.mark.parametrize(
    "case",
    [
        Case(text="5s", seconds=5.0),
        Case(text="2500ms", seconds=2.5),
        Case(text="1m30s", seconds=90.0),
        Case(text="1.5h", seconds=5400.0),
        Case(text="3", seconds=3.0),
    ],
    ids=lambda c: c.text,
)
def test_a_go_duration_reads_as_seconds(case: Case) -> None:
    assert parse_duration(case.text) == pytest.approx(case.seconds)


@pytest.mark.parametrize("text", ["", "5 s", "five", "5x", "0s", "-1"])
def test_a_wrong_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        parse_duration(text)
