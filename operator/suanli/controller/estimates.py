"""A waiting job's start estimate as status fields: for a job waiting for room, its place in
the waiting jobs' estimates (`TimeKeeper.estimates`); for a job waiting for quota, the moment
its queue has room (`suanli.queueing.quotatime`) and the first moment from then on that its pods
fit (`suanli.state.earliest.earliest_start`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from suanli.api import ComputeJobStatus, Phase
from suanli.api.durations import text
from suanli.controller.cache import JobKey
from suanli.controller.quota import QUOTA_CONDITION
from suanli.controller.timekeeper import EXACT_ESTIMATES, TimeKeeper
from suanli.queueing import Holder, JobRequest, QuotaBook
from suanli.queueing.quotatime import Ending, quota_frees
from suanli.state.earliest import Estimate, earliest_start
from suanli.state.timeline import timeline, unending

MAX_NODES = 64
# A waiting job whose estimate is not made yet (a reconcile makes only so many): it is looked at
# again soon (`ESTIMATE_EVERY_SECONDS`), not only when something else changes.
PENDING = "estimate pending: made at one of its next reconciles"
MAX_BASIS = 2048  # status.estimateBasis's maxLength
# Quota waits that time can end (the others need someone to change a queue or the job).
_TIMED = frozenset({"QuotaExhausted", "BudgetExhausted", "BehindHeadOfLine"})
QuotaBookOf = Callable[[], tuple[QuotaBook, list[JobRequest], list[Holder]]]
_NONE: dict[str, Any] = {
    "estimated_start_time": None,
    "estimated_nodes": None,
    "estimate_basis": None,
}


def estimate_fields(
    estimate: Estimate | None,
    now: dt.datetime,
    *,
    reserved: bool,
    defaults: Sequence[str],
    unbounded: Sequence[str],
) -> dict[str, Any]:
    """The status fields of a waiting job's estimate (snake_case, as the lifecycle builds it)."""
    if estimate is None:
        return dict(_NONE)
    if estimate.aggregated:
        return _aggregated_fields(estimate, now, defaults=defaults, unbounded=unbounded)
    if estimate.start is None:
        if unbounded:
            held = ", ".join(unbounded[:5]) + (" and others" if len(unbounded) > 5 else "")
            basis = (
                f"no estimate: it fits only once room held by {held} frees, and they have no "
                "time limit nor expected run time (runPolicy, or their queue's runtime defaults)"
            )
        else:
            basis = (
                f"no estimate: it does not fit even once every running job ends: {estimate.reason}"
            )
        return {
            "estimated_start_time": None,
            "estimated_nodes": None,
            "estimate_basis": basis[:MAX_BASIS],
        }
    nodes = sorted(set(estimate.plan.values()))[:MAX_NODES]
    if estimate.start <= now:
        basis = "fits now"
    else:
        ends = ", ".join(estimate.waits_for[-5:])
        more = f"{len(estimate.waits_for) - 5} others and " if len(estimate.waits_for) > 5 else ""
        basis = f"once {more}{ends} end" + (
            " (reserved: jobs behind it start first only if they do not delay it)"
            if reserved
            else ""
        )
        basis += _defaults_note(defaults, estimate.waits_for)
    return {
        "estimated_start_time": estimate.start.replace(microsecond=0),
        "estimated_nodes": nodes,
        "estimate_basis": basis[:MAX_BASIS],
    }


def _defaults_note(defaults: Sequence[str], waits_for: Sequence[str]) -> str:
    """Which of the jobs waited for run on a queue's default or history, if any."""
    counted = [d for d in defaults if d.split(" ", 1)[0] in waits_for]
    if not counted:
        return ""
    return "; run times from queue defaults or history: " + ", ".join(counted[:5])


def _aggregated_fields(
    estimate: Estimate, now: dt.datetime, *, defaults: Sequence[str], unbounded: Sequence[str]
) -> dict[str, Any]:
    """An estimate of the aggregated walk: approximate, and no nodes."""
    how = (
        f"approximate (behind the first {EXACT_ESTIMATES} waiting jobs, which are planned on "
        "nodes: the requests of the jobs ahead are added up per resource, not placed on nodes)"
    )
    if estimate.start is None:
        basis = f"no estimate, {how}: {estimate.reason}"
        if unbounded and "without a run time" in estimate.reason:
            basis += f" ({', '.join(unbounded[:5])}{' and others' if len(unbounded) > 5 else ''})"
        return {
            "estimated_start_time": None,
            "estimated_nodes": None,
            "estimate_basis": basis[:MAX_BASIS],
        }
    if estimate.start <= now:
        when = "its requests fit the free room now"
    else:
        when = f"once {', '.join(estimate.waits_for)} and the jobs before them end"
    basis = f"{how}: {when}" + _defaults_note(defaults, estimate.waits_for)
    return {
        "estimated_start_time": estimate.start.replace(microsecond=0),
        "estimated_nodes": None,
        "estimate_basis": basis[:MAX_BASIS],
    }


def _quota_estimate(
    time: TimeKeeper,
    key: JobKey,
    body: Mapping[str, Any],
    now: dt.datetime,
    *,
    quota_book: QuotaBookOf,
    known_types: Sequence[str],
) -> tuple[Estimate | None, str]:
    """When a job waiting for quota may start: once its queue has room, and its pods fit."""
    job = time.board.job_of(body)
    queue = ((body.get("status") or {}).get("queue")) or None
    if job is None or queue is None:
        return None, ""
    book, pending, holders = quota_book()
    request = next((r for r in pending if r.key == key), None)
    if request is None:
        return None, ""
    running, _ = time.running(now, expected=True)
    ends = {r.job: r.ends for r in running}
    ending = [
        Ending(f"{h.namespace}/{h.name}", h.charge, ends.get(f"{h.namespace}/{h.name}"))
        for h in holders
    ]
    frees, ended = quota_frees(book, request, known_types, ending, now)
    if frees is None:
        return None, (
            f"no estimate: queue {queue} has room for it only once jobs without a time limit "
            "nor expected run time end"
        )
    candidate = time.candidate(key, body, job, time.board.limits(job, key[0]))
    if candidate is None:
        return None, ""
    planner = time.planner()
    releases = timeline(planner.feed.state, running, now)
    holding = time.holdings(now, exclude=key)
    estimate = earliest_start(planner, candidate, releases, now, holding, not_before=frees)
    quota = f"queue {queue} has room once {', '.join(ended[-5:])} end" if ended else ""
    return estimate, quota


def estimated_status(
    time: TimeKeeper,
    key: JobKey,
    body: Mapping[str, Any],
    status: ComputeJobStatus,
    now: dt.datetime,
    *,
    quota_book: QuotaBookOf | None = None,
    known_types: Sequence[str] = (),
) -> ComputeJobStatus:
    """The status with the estimate of a waiting job (any other job has none)."""
    quota = next((c for c in status.conditions if c.type == QUOTA_CONDITION), None)
    fields = dict(_NONE)
    if status.phase is not Phase.QUEUED:
        return _updated(status, fields)
    if quota is not None and quota.status.value != "True":
        estimate, why = None, ""
        if quota.reason in _TIMED and quota_book is not None:
            estimate, why = _quota_estimate(
                time, key, body, now, quota_book=quota_book, known_types=known_types
            )
        running, _ = time.running(now, expected=True)
        fields = estimate_fields(
            estimate,
            now,
            reserved=False,
            defaults=(),
            unbounded=unending(time.planner().feed.state, running),
        )
        first = f"waits for quota first ({quota.reason})"
        if estimate is None:
            fields["estimate_basis"] = f"{first}; {why or 'estimated once its queue admits it'}"[
                :MAX_BASIS
            ]
        else:
            room = why or "its queue has room now"
            fields["estimate_basis"] = f"{first}: {room}; then {fields['estimate_basis']}"[
                :MAX_BASIS
            ]
    else:
        found, waiters, defaults = time.estimates(now)
        name = f"{key[0]}/{key[1]}"
        head = reserved_head([w.candidate.job for w in waiters], found, now)
        running, _ = time.running(now, expected=True)
        fields = estimate_fields(
            found.get(name),
            now,
            reserved=head == name,
            defaults=defaults,
            unbounded=unending(time.planner().feed.state, running),
        )
        if name not in found:
            place = next((i for i, w in enumerate(waiters) if w.candidate.job == name), None)
            if place is None:
                why = "no estimate: its pods cannot be planned (see the Valid condition)"
            else:
                why = PENDING
            fields["estimate_basis"] = why
    own = _own_run_time(time, key, body)
    if own and fields["estimate_basis"]:
        fields["estimate_basis"] = f"{fields['estimate_basis']}; {own}"[:MAX_BASIS]
    return _updated(status, fields)


def _own_run_time(time: TimeKeeper, key: JobKey, body: Mapping[str, Any]) -> str:
    """What the job's own run time is counted as, when its queue set it (a default or the
    queue's history), for the estimates of the jobs behind it."""
    job = time.board.job_of(body)
    if job is None:
        return ""
    limits = time.board.limits(job, key[0])
    if limits.expected is None or not limits.expected_source:
        return ""
    return f"its own run time counts as {text(limits.expected)} ({limits.expected_source})"


def reserved_head(
    waiting: Sequence[str], found: Mapping[str, Estimate], now: dt.datetime
) -> str | None:
    """The first waiting job (in line order) with an exact estimate later than now: the one room
    is reserved for (the aggregated estimates are behind it). Jobs without an estimate are passed
    over: a call makes only a few new exact estimates, so `found` may lack some of them."""
    for job in waiting:
        estimate = found.get(job)
        if (
            estimate is not None
            and not estimate.aggregated
            and estimate.start is not None
            and estimate.start > now
        ):
            return job
    return None


def _updated(status: ComputeJobStatus, fields: dict[str, Any]) -> ComputeJobStatus:
    current = {k: getattr(status, k) for k in fields}
    return status if current == fields else status.model_copy(update=fields)
