"""Spending against a queue's budget period: charging the running jobs' price over time, and
whom to stop when the period's money runs out.

Charging multiplies the time since the last accounting by the larger of the running jobs' price
per hour then and now: jobs admitted in between are charged from the last accounting, so the
recorded spend never trails what was spent (a job both started and ended between two
accountings is the exception). Periods start at whole multiples of their length since the epoch
(UTC); spending starts from zero in each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from suanli.queueing.preempt import Holder, in_victim_order

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SpendState:
    period_start: dt.datetime
    spent: float  # USD in the period
    price_per_hour: float  # of the running jobs, as last seen
    accounted_at: dt.datetime


def period_start(now: dt.datetime, seconds: float) -> dt.datetime:
    elapsed = (now - _EPOCH).total_seconds()
    return _EPOCH + dt.timedelta(seconds=elapsed - elapsed % seconds)


def charged(
    before: SpendState | None, now: dt.datetime, period_seconds: float, price_per_hour: float
) -> SpendState:
    """The spend after charging the time since the last accounting; `price_per_hour` is what
    runs now."""
    start = period_start(now, period_seconds)
    if before is None:
        return SpendState(start, 0.0, price_per_hour, now)
    rate = max(before.price_per_hour, price_per_hour)
    if start > before.period_start:
        # A new period: only the part of the interval inside it is charged to it.
        since = max(start, before.accounted_at)
        spent = rate * max(0.0, (now - since).total_seconds()) / 3600
    else:
        hours = max(0.0, (now - before.accounted_at).total_seconds()) / 3600
        spent = before.spent + rate * hours
    return SpendState(start, spent, price_per_hour, now)


def budget_victims(
    running: Sequence[tuple[Holder, float]], spent: float, limit: float, hours_ahead: float
) -> list[Holder]:
    """The running jobs (with their price per hour) to stop so that the period's spend plus
    what the rest costs over the next `hours_ahead` stays within `limit`: lowest priority
    first, then the most recently admitted; none when it already does."""
    price = {holder.key: each for holder, each in running}
    remaining = sum(price.values())
    victims: list[Holder] = []
    for holder in in_victim_order([h for h, each in running if each > 0 and h.preemptible]):
        if spent + remaining * hours_ahead <= limit:
            break
        victims.append(holder)
        remaining -= price[holder.key]
    return victims
