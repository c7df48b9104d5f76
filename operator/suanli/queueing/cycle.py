"""One admission cycle: which waiting jobs are admitted now, and why the others wait.

Within a queue, jobs go by priority (higher first), then creation time, then name. Across
queues, the next job considered is the head of the queue holding the smallest dominant share
of its nominal quota (ties by queue name), so a cohort's queues take turns by how much they
already hold. A job that does not fit blocks its queue under StrictFIFO; under BestEffortFIFO
the jobs behind it are still considered.

A job kept out only because other queues of its cohort borrow what it needs holds that back
from them for the rest of the cycle (`_hold_back`): without it, room freed by a finishing job
goes to whichever smaller job fits, and a queue whose jobs are large never gets its share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from suanli.api.queues import PRICE_RESOURCE, HeadOfLine
from suanli.queueing.book import Charge, JobRequest, QuotaBook
from suanli.queueing.fairshare import dominant_share
from suanli.queueing.preempt import Holder, plan_preemption

JobKey = tuple[str, str]


@dataclass(frozen=True)
class Admitted:
    charge: Charge
    # Jobs to preempt first (with why: InQueuePriority, ReclaimBorrowed or FairSharing);
    # empty: none.
    victims: tuple[Holder, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiting:
    """A job left waiting: its place in its queue (1 = next) and why, with the resource."""

    position: int
    reason: str  # QuotaExhausted, BehindHeadOfLine, NoQuotaForType
    message: str


@dataclass
class CycleResult:
    admitted: dict[JobKey, Admitted] = field(default_factory=dict)
    waiting: dict[JobKey, Waiting] = field(default_factory=dict)


def queue_order(job: JobRequest) -> tuple[int, str, str, str]:
    return (-job.priority, job.created, job.namespace, job.name)


def admission_cycle(
    book: QuotaBook,
    pending: Sequence[JobRequest],
    known_types: Sequence[str],
    holders: Sequence[Holder] = (),
    prices: Mapping[str, float] | None = None,
) -> CycleResult:
    """Admit what fits, in order, charging `book` as it goes; a job that does not fit may
    preempt some of the admitted `holders`, as its queue's preemption policy allows."""
    result = CycleResult()
    standing = list(holders)
    lines: dict[str, list[JobRequest]] = {}
    for job in sorted(pending, key=queue_order):
        lines.setdefault(job.queue, []).append(job)
    positions = {job.key: index + 1 for line in lines.values() for index, job in enumerate(line)}
    heads = {queue: 0 for queue in lines}
    held_back: dict[tuple[str, str], JobRequest] = {}
    while heads:
        queue = min(heads, key=lambda q: (dominant_share(book, q), q))
        line = lines[queue]
        job = line[heads[queue]]
        heads[queue] += 1
        options = book.options(job, known_types, prices)
        open_options = [c for c in options if _held_for(book, c, held_back) is None]
        verdict = _try(book, job, options, held_back)
        if not isinstance(verdict, Admitted) and verdict[0] == "QuotaExhausted" and standing:
            # Only the options nothing is held back from: preempting must not hand a job the
            # room gathered for another queue's.
            plan = plan_preemption(book, job, open_options, standing)
            if plan is not None:
                for victim in plan.victims:
                    book.release(victim.charge)
                    standing.remove(victim)
                verdict = Admitted(plan.charge, plan.victims, plan.reasons)
        if isinstance(verdict, Admitted):
            book.hold(verdict.charge)
            result.admitted[job.key] = verdict
        else:
            result.waiting[job.key] = Waiting(positions[job.key], verdict[0], verdict[1])
            _hold_back(book, job, open_options, held_back)
            if book.queues[queue].head_of_line is HeadOfLine.STRICT_FIFO:
                for behind in line[heads[queue] :]:
                    result.waiting[behind.key] = Waiting(
                        positions[behind.key],
                        "BehindHeadOfLine",
                        f"queue {queue} is StrictFIFO and {job.namespace}/{job.name} ahead "
                        f"does not fit: {verdict[1]}",
                    )
                heads[queue] = len(line)
        if heads[queue] >= len(line):
            del heads[queue]
    return result


def _hold_back(
    book: QuotaBook,
    job: JobRequest,
    options: Sequence[Charge],
    held_back: dict[tuple[str, str], JobRequest],
) -> None:
    """Hold back, for the rest of the cycle, the cohort's resources that keep `job` out only
    because other queues borrow them: those queues borrow no more of them, so the room its
    queue is owed gathers as their jobs finish, instead of going job by job to smaller jobs of
    queues that already hold more than their share. Jobs are tried by their queue's share, so
    every queue tried later holds at least as much (over its weight) as this one.

    For every job kept out that way (a queue waiting for H100 and for T4 is owed either), for
    the first of the job's options that fits once nobody else borrows; a job that would not
    fit even then (its queue's borrowing limit, what lenders use themselves) holds nothing
    back, so nothing is held for a job that cannot come in. The queue's own jobs may still
    take the room (under BestEffortFIFO, a smaller one behind it): it is the queue's share
    that is held, not the job's place."""
    cohort = book.cohort_of(job.queue)
    if cohort is None:
        return
    for charge in options:
        short = book.short_for_borrowers(charge)
        if short:
            for resource in short:
                held_back.setdefault((cohort, resource), job)
            return


def _held_for(
    book: QuotaBook, charge: Charge, held_back: Mapping[tuple[str, str], JobRequest]
) -> tuple[str, JobRequest] | None:
    """The resource and job for which the charge may not borrow, if any: held back for a job
    of another queue of the cohort. Within its queue's nominal quota a charge is never held:
    that quota is the queue's own."""
    cohort = book.cohort_of(charge.queue)
    if cohort is None or not held_back:
        return None
    for resource in book.borrowing(charge):
        holder = held_back.get((cohort, resource))
        if holder is not None and holder.queue != charge.queue:
            return resource, holder
    return None


def _try(
    book: QuotaBook,
    job: JobRequest,
    options: Sequence[Charge],
    held_back: Mapping[tuple[str, str], JobRequest],
) -> Admitted | tuple[str, str]:
    if not options:
        wanted = ", ".join(job.types) if job.types else "any type"
        return (
            "NoQuotaForType",
            f"queue {job.queue} has no quota for {wanted} nor for gpu; add one to the queue "
            "or send the job to a queue that has",
        )
    reasons = []
    over_budget = True
    for charge in options:
        held = _held_for(book, charge, held_back)
        if held is not None:
            resource, holder = held
            amount = dict(charge.amounts)[resource]
            reasons.append(
                f"needs {amount:g} {resource}; cohort {book.cohort_of(charge.queue)} holds "
                f"back what it lends of {resource} for {holder.namespace}/{holder.name} of "
                f"queue {holder.queue}, whose fair share is lower"
            )
            over_budget = False
            continue
        short = book.shortfall(charge)
        if short is None:
            return Admitted(charge)
        reasons.append(short.message)
        over_budget = over_budget and short.resource == PRICE_RESOURCE
    reason = "BudgetExhausted" if over_budget else "QuotaExhausted"
    return reason, "; ".join(dict.fromkeys(reasons))
