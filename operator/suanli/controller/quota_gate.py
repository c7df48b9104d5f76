"""The quota gate in front of a job's pods: runs the admission cycle over every waiting job,
records each admission in that job's status before any of its pods exists, and keeps the
queues' status counts.

One worker reconciles at a time, so two cycles never admit onto the same quota; the admissions
are written to the API before they count, so a restart rebuilds the same usage.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from suanli.api import ComputeJob, QueueAdmission, QuotaCharge
from suanli.controller.conditions import MAX_MESSAGE
from suanli.controller.queues import RELEASED_PHASES, QueueBoard, held_charge
from suanli.controller.quota import (
    PREEMPTED_CONDITION,
    QUOTA_CONDITION,
    QuotaHeld,
    QuotaVerdict,
    QuotaWait,
    describe,
)
from suanli.queueing import Admitted, Charge, Holder, JobRequest, QuotaBook, admission_cycle
from suanli.queueing.fairshare import averaged, dominant_share
from suanli.queueing.preempt import why_preempted
from suanli.queueing.runtime import TOO_LONG
from suanli.scoring import Catalog

log = logging.getLogger(__name__)
JobKey = tuple[str, str]
StatusPatch = Callable[[str, str, dict[str, Any]], Awaitable[None]]
QueuePatch = Callable[[str, dict[str, Any]], Awaitable[None]]
EventPoster = Callable[[Mapping[str, Any], str, str, str], Awaitable[None]]
PodsDeleter = Callable[[JobKey], Awaitable[None]]

# How often a queue's averaged usage is brought up to date (each update is a status write).
AVERAGE_EVERY_SECONDS = 30.0
# How often budgeted queues are charged; admission affords what runs for this long ahead.
ACCOUNTING_SECONDS = 30.0  # the budget keeper's interval (controller/budgets.py)


def admission_of(admitted: Admitted, now: dt.datetime) -> QueueAdmission:
    charge = admitted.charge
    return QueueAdmission(
        queue=charge.queue,
        accelerator_types=list(charge.accelerator_types),
        charged=[QuotaCharge(resource=r, amount=round(a, 6)) for r, a in charge.amounts],
        admitted_at=now,
    )


def _condition(kind: str, value: bool, reason: str, message: str, stamp: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if value else "False",
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "lastTransitionTime": stamp,
    }


class QuotaGate:
    def __init__(
        self,
        *,
        board: QueueBoard,
        jobs: Mapping[JobKey, dict[str, Any]],
        pods: Mapping[JobKey, Mapping[str, Any]],
        patch_job_status: StatusPatch,
        patch_queue_status: QueuePatch,
        post_event: EventPoster,
        enqueue: Callable[[JobKey], None],
        delete_pods: PodsDeleter,
        preempted: Callable[[str, str], None] = lambda _queue, _reason: None,
        overruled: Callable[[JobKey], None] = lambda _key: None,
    ) -> None:
        self.board = board
        self.jobs = jobs
        self.pods = pods
        self.patch_job_status = patch_job_status
        self.patch_queue_status = patch_queue_status
        self.post_event = post_event
        self.enqueue = enqueue
        self.delete_pods = delete_pods
        self.preempted = preempted
        # Told when a job's status is written here, for another job's decision: that job's own
        # decision in flight must not write over it.
        self.overruled = overruled

    async def verdict(
        self,
        key: JobKey,
        job: ComputeJob,
        body: Mapping[str, Any],
        catalog: Catalog,
        now: dt.datetime,
    ) -> QuotaVerdict | None:
        """The job's standing (None: no queue applies, or it ran before it had one)."""
        status = body.get("status") or {}
        if status.get("phase") in RELEASED_PHASES or job.spec.run_policy.suspend:
            return None
        if status.get("admission"):
            return QuotaHeld(QueueAdmission.model_validate(status["admission"]))
        if self.pods.get(key) and not status.get("queue"):
            return None  # running since before a queue applied to it: not taken back
        queue, problem = self.board.queue_of(job, key[0])
        if queue is None or problem is not None:
            return problem
        refusal = self.board.limits(job, key[0]).refusal
        if refusal is not None:
            return QuotaWait(queue, None, TOO_LONG, refusal)
        if self.board.priority_of(body.get("spec") or {}) is None:
            missing = (
                f"no PriorityClass named {job.spec.priority_class_name}; create it or change "
                "spec.priorityClassName"
            )
            return QuotaWait(queue, None, "PriorityClassNotFound", missing)
        if self.board.request(body, job, queue, catalog) is None:
            return None  # its pods cannot be read: the lifecycle says why on the job
        book, pending, holders = self.book_and_pending(catalog)
        prices = {t: known.price_per_hour for t in catalog.names if (known := catalog.get(t))}
        result = admission_cycle(book, pending, catalog.names, holders, prices)
        for other, admitted in result.admitted.items():
            for victim, reason in zip(admitted.victims, admitted.reasons, strict=True):
                why = why_preempted(reason, admitted.charge.queue, victim.charge.queue)
                await self.preempt(
                    victim, reason, f"preempted by {other[0]}/{other[1]}: {why}", now
                )
            if other != key:
                await self._admit(other, admitted, now)
        await self._write_queue_statuses(book, pending, result.admitted, now)
        if key in result.admitted:
            return QuotaHeld(admission_of(result.admitted[key], now))
        waiting = result.waiting[key]
        return QuotaWait(queue, waiting.position, waiting.reason, waiting.message)

    def book_and_pending(
        self, catalog: Catalog
    ) -> tuple[QuotaBook, list[JobRequest], list[Holder]]:
        held: list[Charge] = []
        holders: list[Holder] = []
        pending: list[JobRequest] = []
        for key, body in self.jobs.items():
            status = body.get("status") or {}
            spec = body.get("spec") or {}
            holder = self.board.holder(key, body)
            if holder is not None:
                held.append(holder.charge)
                holders.append(holder)
                continue
            if status.get("phase") in RELEASED_PHASES or status.get("admission"):
                continue
            if self.pods.get(key) and not status.get("queue"):
                continue
            if (spec.get("runPolicy") or {}).get("suspend"):
                continue
            job = self.board.job_of(body)
            if job is None:
                continue
            queue, problem = self.board.queue_of(job, key[0])
            if queue is None or problem is not None or self.board.limits(job, key[0]).refusal:
                continue
            request = self.board.request(body, job, queue, catalog)
            if request is not None:
                pending.append(request)
        history = {
            name: {u["resource"]: float(u["amount"]) for u in status.get("averageUsage") or []}
            for name, body in self.board.bodies.items()
            if (status := body.get("status") or {})
        }
        spent = {
            name: float((status.get("spend") or {}).get("spent") or 0.0)
            for name, body in self.board.bodies.items()
            if (status := body.get("status") or {})
        }
        book = QuotaBook(self.board.specs, held, history, spent, ACCOUNTING_SECONDS / 3600)
        return book, pending, holders

    async def preempt(self, victim: Holder, reason: str, message: str, now: dt.datetime) -> None:
        """Take a job's quota back: its status first (so a restart never counts it twice),
        then its pods; it waits in its queue again."""
        body = self.jobs.get(victim.key)
        if body is None:
            return
        self.overruled(victim.key)
        status = dict(body.get("status") or {})
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        kept = [
            c
            for c in status.get("conditions") or []
            if c.get("type") not in (QUOTA_CONDITION, PREEMPTED_CONDITION)
        ]
        conditions = [
            *kept,
            _condition(QUOTA_CONDITION, False, "Preempted", message, stamp),
            _condition(PREEMPTED_CONDITION, True, reason, message, stamp),
        ]
        patch = {"admission": None, "phase": "Queued", "conditions": conditions}
        await self.patch_job_status(victim.namespace, victim.name, patch)
        body["status"] = {**{k: v for k, v in status.items() if k != "admission"}, **patch}
        del body["status"]["admission"]
        await self.delete_pods(victim.key)
        await self.post_event(body, "Warning", "Preempted", message)
        self.preempted(victim.charge.queue, reason)
        log.info("preempted %s/%s: %s", victim.namespace, victim.name, message)

    async def _admit(self, key: JobKey, admitted: Admitted, now: dt.datetime) -> None:
        """Record another job's admission in its status; its own reconcile creates its pods."""
        body = self.jobs.get(key)
        if body is None:
            return
        self.overruled(key)
        admission = admission_of(admitted, now)
        status = dict(body.get("status") or {})
        message = describe(admission)
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != QUOTA_CONDITION]
        conditions.append(
            _condition(
                QUOTA_CONDITION, True, "QuotaReserved", message, now.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
        )
        patch = {
            "queue": admission.queue,
            "queuePosition": None,
            "admission": admission.model_dump(mode="json", by_alias=True),
            "conditions": conditions,
        }
        await self.patch_job_status(key[0], key[1], patch)
        body["status"] = {**{k: v for k, v in status.items() if k != "queuePosition"}, **patch}
        del body["status"]["queuePosition"]
        await self.post_event(body, "Normal", "QuotaReserved", message)
        self.enqueue(key)

    async def _write_queue_statuses(
        self,
        book: QuotaBook,
        pending: list[JobRequest],
        admitted: Mapping[JobKey, Admitted],
        now: dt.datetime,
    ) -> None:
        # A copy: a queue event may change the board while a status write is awaited.
        for name, spec in list(self.board.specs.items()):
            body = self.board.bodies.get(name) or {}
            before = body.get("status") or {}
            usage = []
            for quota in spec.quotas:
                used = book.used(name, quota.resource)
                usage.append(
                    {
                        "resource": quota.resource,
                        "nominal": quota.nominal,
                        "used": round(used, 6),
                        "borrowed": round(max(0.0, used - quota.nominal), 6),
                    }
                )
            summary = ", ".join(f"{u['resource']} {u['used']:g}/{u['nominal']:g}" for u in usage)
            status = {
                "pending": sum(1 for j in pending if j.queue == name and j.key not in admitted),
                "admitted": self._holding(name, admitted),
                "usage": usage,
                "summary": summary,
                "fairShare": round(dominant_share(book, name), 6),
                **queue_averages(before, spec.fair_share.usage_half_life_hours, now),
            }
            # Only the fields written here are sent: spend (budgets) and runtimeHistory (jobs
            # that succeeded) are written elsewhere, maybe meanwhile, and a merge patch keeps
            # what it does not name.
            if any(before.get(field) != value for field, value in status.items()):
                await self.patch_queue_status(name, status)
                merge_status(self.board.bodies.get(name), status)

    def _holding(self, queue: str, admitted: Mapping[JobKey, Admitted]) -> int:
        holding = 0
        for key, body in self.jobs.items():
            # The job being reconciled is admitted here, but its status is written after.
            charge = held_charge(body.get("status") or {}) or (
                admitted[key].charge if key in admitted else None
            )
            holding += charge is not None and charge.queue == queue
        return holding


def merge_status(body: dict[str, Any] | None, written: Mapping[str, Any]) -> None:
    """What a status patch wrote, into the queue as held now (the board may hold a newer body
    than the one read before the write was awaited)."""
    if body is not None:
        body["status"] = {**(body.get("status") or {}), **written}


def queue_averages(
    before: Mapping[str, Any], half_life_hours: float, now: dt.datetime
) -> dict[str, Any]:
    """The queue's averaged past usage, brought up to date at most every AVERAGE_EVERY (the
    usage held since the last update is the one its status recorded then)."""
    stamp = before.get("averagedAt")
    previous = {u["resource"]: float(u["amount"]) for u in before.get("averageUsage") or []}
    if stamp:
        since = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        elapsed = (now - since).total_seconds()
        if elapsed < AVERAGE_EVERY_SECONDS:
            return {"averageUsage": before.get("averageUsage") or [], "averagedAt": stamp}
        held = {u["resource"]: float(u["used"]) for u in before.get("usage") or []}
        previous = averaged(previous, held, elapsed, half_life_hours)
    return {
        "averageUsage": [{"resource": r, "amount": round(a, 6)} for r, a in previous.items()],
        "averagedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
