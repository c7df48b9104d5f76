"""Choosing whom to preempt so that a waiting job fits its quota: a what-if on the quota book.

Victims are whole admitted jobs, never part of a gang, and never jobs marked non-preemptible.
Two kinds may be taken, as the waiting job's queue allows:

- within the queue, admitted jobs of lower priority (LowerPriority);
- in the cohort, jobs of queues that borrow, when the waiting job fits its own queue's nominal
  quota (reclaimBorrowed): the queue takes back what it lent, whatever their priority;
- failing those, with fairSharing, jobs of queues of the cohort that borrow and hold a larger
  weighted share, the largest share first, as long as the victim's queue keeps at least the
  share the waiting job's queue reaches by it: the preemption evens shares out and can never be
  answered by one the other way (a queue never preempts to get ahead of its victim).

Candidates are tried lowest priority first, then newest first, until the job fits; then each
chosen victim that is not needed after all is given back, so the set is minimal (no victim can
be spared) and as low in priority as the order allows. The book is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.api.queues import WithinQueue
from suanli.queueing.book import Charge, JobRequest, QuotaBook
from suanli.queueing.fairshare import dominant_share

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
    if spec.preemption.fair_sharing:
        for charge in options:
            chosen = _fair_victims(book, charge, holders)
            if chosen is not None:
                return Preemption(charge, tuple(chosen), ("FairSharing",) * len(chosen))
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
        _give_back_unneeded(book, charge, taken)
        return taken
    finally:
        for holder in taken:
            book.hold(holder.charge)


def _give_back_unneeded(book: QuotaBook, charge: Charge, taken: list[Holder]) -> None:
    """Give back, last taken first, every victim in `taken` (released in `book`) that the
    charge fits without: it is held again and leaves `taken`."""
    for holder in reversed(list(taken)):
        book.hold(holder.charge)
        if book.shortfall(charge) is None:
            taken.remove(holder)
        else:
            book.release(holder.charge)


def why_preempted(reason: str, by_queue: str, victim_queue: str) -> str:
    """Why a victim was preempted, in words, for its condition and event."""
    if reason == "InQueuePriority":
        return "a job of higher priority in the same queue needed its quota"
    if reason == "FairSharing":
        return (
            f"queue {by_queue} holds a smaller weighted share of the cohort than queue "
            f"{victim_queue}, which borrowed what it needed"
        )
    return f"queue {by_queue} took back the quota it lent to the cohort"


def _fair_victims(
    book: QuotaBook, charge: Charge, holders: Sequence[Holder]
) -> list[Holder] | None:
    """Victims, by fair sharing, that make the charge fit; None when no such set exists. The
    book is left as it was."""
    cohort = book.cohort_of(charge.queue)
    if cohort is None:
        return None
    wanted = {r for r, _ in charge.amounts}
    by_queue: dict[str, list[Holder]] = {}
    for h in holders:
        if (
            h.preemptible
            and h.charge.queue != charge.queue
            and book.cohort_of(h.charge.queue) == cohort
            and wanted & {r for r, _ in h.charge.amounts}
        ):
            by_queue.setdefault(h.charge.queue, []).append(h)
    lines = {queue: in_victim_order(found) for queue, found in by_queue.items()}
    taken: list[Holder] = []
    try:
        while book.shortfall(charge) is not None:
            victim = _next_fair_victim(book, charge, wanted, lines)
            if victim is None:
                return None
            book.release(victim.charge)
            taken.append(victim)
        # Giving a victim back only raises its queue's share: the others still keep the rule.
        _give_back_unneeded(book, charge, taken)
        return taken
    finally:
        for holder in taken:
            book.hold(holder.charge)


def _next_fair_victim(
    book: QuotaBook, charge: Charge, wanted: set[str], lines: dict[str, list[Holder]]
) -> Holder | None:
    """The next victim: from the queue holding the largest weighted share, the first of its
    borrowing jobs (in victim order) without which that queue still holds at least the share
    the charge's queue holds with the charge (`wanted`: the resources the charge asks for)."""
    book.hold(charge)
    reached = dominant_share(book, charge.queue)
    book.release(charge)
    for queue in sorted(lines, key=lambda q: (-dominant_share(book, q), q)):
        line = lines[queue]
        for index, candidate in enumerate(line):
            if not book.borrows(queue, wanted & {r for r, _ in candidate.charge.amounts}):
                continue
            book.release(candidate.charge)
            kept = dominant_share(book, queue)
            book.hold(candidate.charge)
            if kept + _EPSILON >= reached:
                del line[index]
                return candidate
    return None


# Shares are ratios of float sums: tolerate rounding when comparing them.
_EPSILON = 1e-9
