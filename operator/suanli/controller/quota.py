"""A job's standing in its ComputeQueue, as the lifecycle reads it and writes it to the status.

Pure: the verdict comes from the admission cycle (`suanli.queueing`), run by the controller;
here it becomes status fields, the QuotaReserved condition and events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suanli.api import Condition, QueueAdmission
from suanli.controller.conditions import condition

QUOTA_CONDITION = "QuotaReserved"
PREEMPTED_CONDITION = "Preempted"


@dataclass(frozen=True)
class QuotaHeld:
    """The job holds quota: admitted now or earlier."""

    admission: QueueAdmission


@dataclass(frozen=True)
class QuotaWait:
    """The job waits for quota (or for its queue to exist or to take its namespace)."""

    queue: str | None
    position: int | None
    reason: str  # QuotaExhausted, BehindHeadOfLine, NoQuotaForType, QueueNotFound, ...
    message: str


QuotaVerdict = QuotaHeld | QuotaWait


def describe(admission: QueueAdmission) -> str:
    held = ", ".join(f"{c.resource} {c.amount:g}" for c in admission.charged) or "nothing"
    types = (
        f"; accelerator types {', '.join(admission.accelerator_types)}"
        if admission.accelerator_types
        else ""
    )
    return f"admitted by queue {admission.queue}: holds {held}{types}"


def quota_condition(
    previous: Sequence[Condition], verdict: QuotaVerdict | None, now: dt.datetime
) -> Condition | None:
    """The QuotaReserved condition for the verdict (None: the job is not queued)."""
    if verdict is None:
        return None
    if isinstance(verdict, QuotaHeld):
        held, reason, message = True, "QuotaReserved", describe(verdict.admission)
    else:
        held, reason, message = False, verdict.reason, verdict.message
    return condition(previous, QUOTA_CONDITION, held, reason, message, now)


def waiting_message(verdict: QuotaWait) -> str:
    where = f"queue {verdict.queue}" if verdict.queue else "its queue"
    place = f", position {verdict.position}" if verdict.position else ""
    return f"waiting for quota in {where}{place}: {verdict.message}"


def admission_fields(verdict: QuotaVerdict | None) -> dict[str, Any]:
    """The status fields the verdict sets."""
    if verdict is None:
        return {}
    if isinstance(verdict, QuotaHeld):
        return {
            "queue": verdict.admission.queue,
            "queue_position": None,
            "admission": verdict.admission,
        }
    return {"queue": verdict.queue, "queue_position": verdict.position, "admission": None}


def waits_for_quota(body: Mapping[str, Any] | None, has_pods: bool) -> bool:
    """Whether a reconcile of the job can only re-plan its wait for quota: it holds none, its
    last verdict was to wait, it has no pods left to delete and its spec has not changed
    since (an edit, such as suspending it, is acted on at once). Such jobs are reconciled
    after the ones whose pods or quota wait on their reconcile."""
    if body is None or has_pods:
        return False
    status = body.get("status") or {}
    if status.get("admission") or status.get("phase") != "Queued":
        return False
    if status.get("observedGeneration") != (body.get("metadata") or {}).get("generation"):
        return False
    quota = next(
        (c for c in status.get("conditions") or [] if c.get("type") == QUOTA_CONDITION), None
    )
    return quota is not None and quota.get("status") == "False"
