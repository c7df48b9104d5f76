"""The speed benchmark of `suanli simulate` against a baseline commit: its arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import simulate_speed


@dataclass(frozen=True)
class SeedsCase:
    text: str
    seeds: list[int]


@pytest.mark.parametrize(
    "case",
    [
        SeedsCase(text="42", seeds=[42]),
        SeedsCase(text="42-44", seeds=[42, 43, 44]),
        SeedsCase(text="42,45-46", seeds=[42, 45, 46]),
    ],
    ids=lambda case: case.text,
)
def test_seeds_are_read_as_ranges_and_lists(case: SeedsCase) -> None:
    assert simulate_speed._seeds(case.text) == case.seeds


def test_ratios_are_the_baseline_over_this_code_by_mean_median_and_fastest() -> None:
    before = [{"cpu": 10.0, "unallocated": 0.8}, {"cpu": 12.0, "unallocated": 0.8}]
    after = [{"cpu": 2.0, "unallocated": 0.5}, {"cpu": 4.0, "unallocated": 0.6}]
    found = simulate_speed.ratios(before, after)
    assert found["by_mean"] == pytest.approx(11.0 / 3.0)
    assert found["by_median"] == pytest.approx(11.0 / 3.0)
    assert found["by_fastest"] == pytest.approx(10.0 / 2.0)
    assert (found["baseline_unallocated"], found["now_unallocated"]) == pytest.approx((0.8, 0.55))


def test_the_summary_has_every_seed_and_all_of_them() -> None:
    baseline = {42: [{"cpu": 10.0, "unallocated": 1.0}], 43: [{"cpu": 20.0, "unallocated": 1.0}]}
    now = {42: [{"cpu": 2.0, "unallocated": 0.5}], 43: [{"cpu": 5.0, "unallocated": 0.5}]}
    rows = simulate_speed.summary(baseline, now)
    assert set(rows) == {"42", "43", "all"}
    assert (rows["42"]["by_mean"], rows["43"]["by_mean"]) == pytest.approx((5.0, 4.0))
    assert rows["all"]["by_mean"] == pytest.approx(15.0 / 3.5)
