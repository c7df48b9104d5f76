"""One admission cycle: which waiting jobs are admitted now, and why the others wait.

Within a queue, jobs go by priority (higher first), then creation time, then name. Across
queues, the next job considered is the head of the queue holding the smallest dominant share
of its nominal quota (ties by queue name), so a cohort's queues take turns by how much they
already hold. A job that does not fit blocks its queue under StrictFIFO; under BestEffortFIFO
the jobs behind it are still considered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from suanli.api.queues import PRICE_RESOURCE, HeadOfLine
from suanli.queueing.book import Charge, JobRequest, QuotaBook
from suanli.queueing.preempt import Holder, plan_preemption

JobKey = tuple[str, str]


@dataclass(frozen=True)
class Admitted:
    charge: Charge
    # Jobs to preempt first (with why: InQueuePriority or ReclaimBorrowed); empty: none.
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
    while heads:
        queue = min(heads, key=lambda q: (book.dominant_share(q), q))
        line = lines[queue]
        job = line[heads[queue]]
        heads[queue] += 1
        verdict = _try(book, job, known_types, prices)
        if not isinstance(verdict, Admitted) and verdict[0] == "QuotaExhausted" and standing:
            plan = plan_preemption(book, job, book.options(job, known_types, prices), standing)
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


def _try(
    book: QuotaBook,
    job: JobRequest,
    known_types: Sequence[str],
    prices: Mapping[str, float] | None,
) -> Admitted | tuple[str, str]:
    options = book.options(job, known_types, prices)
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
        short = book.shortfall(charge)
        if short is None:
            return Admitted(charge)
        reasons.append(short.message)
        over_budget = over_budget and short.resource == PRICE_RESOURCE
    reason = "BudgetExhausted" if over_budget else "QuotaExhausted"
    return reason, "; ".join(dict.fromkeys(reasons))
