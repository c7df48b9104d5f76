"""When the clock alone changes a job: its active deadline, its time limit, its gang's timeout,
the TTL after it finished, and the refresh of a running job's accrued cost. Pure: the status
being built (as fields), the spec and the time in; verdicts and the next moment out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from suanli.api import ComputeJobSpec, ConditionStatus, Phase
from suanli.controller.podstatus import parse_time
from suanli.queueing.runtime import RunLimits

TERMINAL = (Phase.SUCCEEDED, Phase.FAILED)
# How often the accrued cost of a running job is brought up to date.
COST_REFRESH_SECONDS = 30.0


def _started(status: Mapping[str, Any], meta: Mapping[str, Any]) -> dt.datetime | None:
    """Where the active deadline counts from: the job's start, else its creation."""
    started: dt.datetime | None = status["start_time"]
    return started or parse_time(meta.get("creationTimestamp"))


def deadline_passed(
    status: Mapping[str, Any], spec: ComputeJobSpec, meta: Mapping[str, Any], now: dt.datetime
) -> bool:
    limit = spec.run_policy.active_deadline_seconds
    start = _started(status, meta)
    return limit is not None and start is not None and (now - start).total_seconds() > limit


def over_time_limit(status: Mapping[str, Any], limits: RunLimits, now: dt.datetime) -> float | None:
    """Seconds run, once past the time limit (counted from the job's start)."""
    limit, began = limits.time_limit, status["start_time"]
    if limit is None or began is None:
        return None
    ran = (now - began).total_seconds()
    return ran if ran > limit else None


def next_look(
    status: Mapping[str, Any],
    spec: ComputeJobSpec,
    meta: Mapping[str, Any],
    limits: RunLimits,
    now: dt.datetime,
) -> float | None:
    """Seconds until the clock alone changes this job's state, if it ever does."""
    policy = spec.run_policy
    moments: list[dt.datetime] = []
    if status["phase"] in TERMINAL:
        if policy.ttl_seconds_after_finished is not None and status["completion_time"] is not None:
            moments.append(
                status["completion_time"] + dt.timedelta(seconds=policy.ttl_seconds_after_finished)
            )
    else:
        start = _started(status, meta)
        if policy.active_deadline_seconds is not None and start is not None:
            moments.append(start + dt.timedelta(seconds=policy.active_deadline_seconds + 1))
        began, limit = status["start_time"], limits.time_limit
        if limit is not None and began is not None:
            moments.append(began + dt.timedelta(seconds=limit + 1))
        admitted = next((c for c in status["conditions"] if c.type == "Admitted"), None)
        gang = spec.gang
        if (
            gang
            and admitted
            and admitted.status == ConditionStatus.TRUE
            and status["phase"] is not Phase.RUNNING
        ):
            moments.append(
                admitted.last_transition_time + dt.timedelta(seconds=gang.timeout_seconds + 1)
            )
        if status["phase"] is Phase.RUNNING:
            moments.append(now + dt.timedelta(seconds=COST_REFRESH_SECONDS))
    if not moments:
        return None
    return max(0.0, (min(moments) - now).total_seconds())
