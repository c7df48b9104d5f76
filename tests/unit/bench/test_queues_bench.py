"""bench-queues: which samples measure the fair-share split, and the split over them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from queues import backlogged, split

COHORT_GPUS = 400  # fair share: 100, 100 and 200 GPUs for weights 1, 1 and 2


def sample(held: tuple[int, int, int], waiting: tuple[int, int, int]) -> dict[str, Any]:
    """One sample, both cohorts alike; running = held."""
    queues = [f"{c}-{i}" for c in ("vision", "speech") for i in range(3)]
    by_queue = {q: (held[int(q[-1])], waiting[int(q[-1])]) for q in queues}
    return {
        "gpus": {q: h for q, (h, _) in by_queue.items()},
        "held": {q: h for q, (h, _) in by_queue.items()},
        "waiting_gpus": {q: w for q, (_, w) in by_queue.items()},
        "waiting": {q: int(w > 0) for q, (_, w) in by_queue.items()},
    }


@dataclass(frozen=True)
class Backlog:
    name: str
    held: tuple[int, int, int]
    waiting: tuple[int, int, int]
    expected: bool


BACKLOGS = [
    Backlog("every queue asks for more than its share", (100, 100, 200), (50, 50, 80), True),
    Backlog("held and waiting add up to the share", (60, 60, 150), (40, 40, 50), True),
    Backlog("the weight-2 queue asks for less than half", (150, 150, 100), (50, 50, 40), False),
    Backlog("a queue with nothing waiting", (100, 100, 200), (50, 0, 80), False),
]


@pytest.mark.parametrize("case", BACKLOGS, ids=[c.name for c in BACKLOGS])
def test_a_sample_counts_while_every_queue_asks_for_its_fair_share(case: Backlog) -> None:
    assert backlogged(sample(case.held, case.waiting), COHORT_GPUS) is case.expected


def test_split_is_gpu_seconds_over_the_cohort_against_the_weights() -> None:
    found = split([sample((100, 100, 200), (1, 1, 1)), sample((50, 150, 200), (1, 1, 1))])
    assert {q: (v["share"], v["fair"]) for q, v in found["shares"].items()} == {
        f"{c}-{i}": share
        for c in ("vision", "speech")
        for i, share in enumerate([(0.188, 0.25), (0.312, 0.25), (0.5, 0.5)])
    }
    assert found["worst"] == pytest.approx(0.062)
    assert found["seconds"] == 4
