"""When a waiting job's queue will have room for it: the admitted jobs' charges released in the
order they are expected to end, on the quota book, until one of the job's options fits. Pure;
the book is left as it was.

Jobs waiting ahead of it in the queue are not counted (they may take the room first), so the
answer is the earliest the quota allows, which the start estimate then takes as its lower bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suanli.queueing.book import Charge, JobRequest, QuotaBook


@dataclass(frozen=True)
class Ending:
    """An admitted job's charge and when it is expected to end (None: not known)."""

    job: str
    charge: Charge
    ends: dt.datetime | None


def quota_frees(
    book: QuotaBook,
    request: JobRequest,
    known_types: Sequence[str],
    ending: Sequence[Ending],
    now: dt.datetime,
    *,
    prices: Mapping[str, float] | None = None,
) -> tuple[dt.datetime | None, tuple[str, ...]]:
    """The first moment the request fits its queue's quota, and the jobs that end by then;
    (None, ...) when it does not fit even once every job with a known end has ended."""

    def fits() -> bool:
        return any(book.shortfall(c) is None for c in book.options(request, known_types, prices))

    if fits():
        return now, ()
    released: list[Charge] = []
    names: list[str] = []
    try:
        timed = sorted((e for e in ending if e.ends is not None), key=lambda e: (e.ends, e.job))
        for entry in timed:
            book.release(entry.charge)
            released.append(entry.charge)
            names.append(entry.job)
            if fits():
                assert entry.ends is not None
                return max(entry.ends, now), tuple(names)
        return None, tuple(names)
    finally:
        for charge in released:
            book.hold(charge)
