"""Choosing whom to preempt so that a waiting job fits its quota: a what-if on the quota book.

Victims are whole admitted jobs, never part of a gang, and never jobs marked non-preemptible.
Two kinds may be taken, as the waiting job's queue allows:

- within the queue, admitted jobs of lower priority (LowerPriority);
- in the cohort, jobs of queues that borrow, when the waiting job fits its own queue's nominal
  quota (reclaimBorrowed): the queue takes back what it lent, whatever their priority.

Candidates are tried lowest priority first, then newest first, until the job fits; then each
chosen victim that is not needed after all is given back, so the set is minimal (no victim can
be spared) and as low in priority as the order allows. The book is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.api.queues import WithinQueue
from suanli.queueing.book import Charge, JobRequest, QuotaBook

JobKey = tuple[str, str]


@dataclass(frozen=True)
class Holder:
    """An admitted job, as preemption sees it."""

    namespace: str
    name: str
    charge: Charge
    priority: int
    admitted_at: str  # RFC 3339
    preemptible: bool = True

    @property
    def key(self) -> JobKey:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class Preemption:
    """Admit `charge` once `victims` are preempted; `reasons` says why each one goes."""

    charge: Charge
    victims: tuple[Holder, ...]
    reasons: tuple[str, ...]


def plan_preemption(
    book: QuotaBook, job: JobRequest, options: Sequence[Charge], holders: Sequence[Holder]
) -> Preemption | None:
    """The first charge of `options` (in the job's preference) that some victims make fit."""
    spec = book.queues[job.queue]
    for charge in options:
        candidates = _candidates(book, job, charge, holders, spec.preemption.within_queue)
        if spec.preemption.reclaim_borrowed and book.within_nominal(charge):
            candidates += _borrowers(book, charge, holders)
        if not candidates:
            continue
        chosen = _enough(book, charge, candidates)
        if chosen is not None:
            reasons = tuple(
                "InQueuePriority" if h.charge.queue == job.queue else "ReclaimBorrowed"
                for h in chosen
            )
            return Preemption(charge, tuple(chosen), reasons)
    return None


def _candidates(
    book: QuotaBook, job: JobRequest, charge: Charge, holders: Sequence[Holder], within: WithinQueue
) -> list[Holder]:
    if within is WithinQueue.NEVER:
        return []
    wanted = {r for r, _ in charge.amounts}
    found = [
        h
        for h in holders
        if h.preemptible
        and h.charge.queue == job.queue
        and h.priority < job.priority
        and wanted & {r for r, _ in h.charge.amounts}
    ]
    return in_victim_order(found)


def _borrowers(book: QuotaBook, charge: Charge, holders: Sequence[Holder]) -> list[Holder]:
    cohort = book.cohort_of(charge.queue)
    if cohort is None:
        return []
    wanted = {r for r, _ in charge.amounts}
    found = [
        h
        for h in holders
        if h.preemptible
        and h.charge.queue != charge.queue
        and book.cohort_of(h.charge.queue) == cohort
        and book.borrows(h.charge.queue, wanted & {r for r, _ in h.charge.amounts})
    ]
    return in_victim_order(found)


def in_victim_order(holders: list[Holder]) -> list[Holder]:
    """Lowest priority first; among equals the most recently admitted (it has run the least)."""
    by_name = sorted(holders, key=lambda h: h.key)
    newest_first = sorted(by_name, key=lambda h: h.admitted_at, reverse=True)
    return sorted(newest_first, key=lambda h: h.priority)


def _enough(book: QuotaBook, charge: Charge, candidates: Sequence[Holder]) -> list[Holder] | None:
    """Victims from `candidates`, in order, until the charge fits; then the unneeded given back."""
    taken: list[Holder] = []
    try:
        for holder in candidates:
            if book.shortfall(charge) is None:
                break
            book.release(holder.charge)
            taken.append(holder)
        if book.shortfall(charge) is not None:
            return None
        # Give back, last taken first, every victim the job fits without.
        for holder in reversed(list(taken)):
            book.hold(holder.charge)
            if book.shortfall(charge) is None:
                taken.remove(holder)
            else:
                book.release(holder.charge)
        return taken
    finally:
        for holder in taken:
            book.hold(holder.charge)
