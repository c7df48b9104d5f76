"""A queue's fair-share position, and the past usage it remembers between admission cycles.

Past usage is an exponential average with a half-life: after one half-life, usage from before
it weighs half. Kept in the queue's status by the operator, so it survives restarts.
"""

from __future__ import annotations

from collections.abc import Mapping

from suanli.api.queues import CPU_RESOURCE, MEMORY_RESOURCE
from suanli.queueing.book import QuotaBook

# The quota resources that are not accelerator devices: each is a share of its own.
_UNITS = frozenset({CPU_RESOURCE, MEMORY_RESOURCE})


def averaged(
    previous: Mapping[str, float],
    used: Mapping[str, float],
    elapsed_seconds: float,
    half_life_hours: float,
) -> dict[str, float]:
    """The average after `elapsed_seconds` during which the queue held `used`."""
    if half_life_hours <= 0:
        return {}
    kept = 0.5 ** (max(0.0, elapsed_seconds) / (half_life_hours * 3600))
    return {
        resource: previous.get(resource, 0.0) * kept + used.get(resource, 0.0) * (1 - kept)
        for resource in sorted(set(previous) | set(used))
    }


def dominant_share(book: QuotaBook, queue: str) -> float:
    """The queue's fair-share position: the largest share of a resource it holds now plus
    its averaged past usage, over its weight. The share is of its cohort's nominal quota
    (its own outside a cohort): a queue with no nominal quota of its own, borrowing from a
    cohort's pool, still takes its turn by weight.

    Accelerator devices count as one resource, whatever their type (every named type and
    the `gpu` pool together), as a GPU-hour is one whatever the type: counted per type, a
    few devices of a scarce type (8 of a cohort's 40 L40S) would weigh as much as a fifth
    of the cohort, and a queue spread over several types would hold far more devices than
    its weight gives it before any one type's share caught up with the others'."""
    spec = book.queues[queue]
    past = book.history.get(queue, {})
    shares = []
    devices_held = devices_base = 0.0
    for quota in spec.quotas:
        base = book.fair_base(queue, quota.resource)
        held = book.used(queue, quota.resource) + past.get(quota.resource, 0.0)
        if quota.resource not in _UNITS:
            devices_held += held
            devices_base += base
        elif base > 0:
            shares.append(held / base)
    if devices_base > 0:
        shares.append(devices_held / devices_base)
    return max(shares, default=0.0) / spec.fair_share.weight
