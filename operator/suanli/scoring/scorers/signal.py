"""The common shape of a scorer's answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from suanli.scoring.context import Context
from suanli.scoring.snapshot import NodeSnapshot


@dataclass(frozen=True, slots=True)
class Signal:
    value: float  # 0 (worst) .. 1 (best)
    why: str


Scorer = Callable[[Context, NodeSnapshot], Signal]


def clamp(value: float) -> float:
    # Comparisons rather than isnan(), min() and max() calls (the decider's bounds clamp a
    # signal per usage state): NaN fails both and is 0.0, as before.
    return 1.0 if value > 1.0 else (value if value > 0.0 else 0.0)


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 1.0


def rank_score(position: int, length: int) -> float:
    """First of n choices scores 1, the last 1/n: a listed choice always beats an unlisted one."""
    return (length - position) / length
