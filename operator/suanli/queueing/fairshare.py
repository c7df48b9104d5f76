"""Past usage, averaged: what a queue's fair share remembers between admission cycles.

An exponential average with a half-life: after one half-life, usage from before it weighs half.
Kept in the queue's status by the operator, so it survives restarts.
"""

from __future__ import annotations

from collections.abc import Mapping


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
