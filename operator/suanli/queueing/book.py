"""What each queue's admitted jobs hold, and whether a job's request fits a queue.

Per queue q and resource r: nominal N, held U, borrowing limit B (absent: none), lending limit L
(absent: N). A queue lends what it does not use of its nominal quota, at most L; a queue holding
more than N borrows the difference. Across a cohort, what is borrowed never exceeds what is
lent. A job fits when, with its request added, its queue stays within N + B and the cohort's
borrowed total stays within its lent total: a queue gets its nominal quota back as borrowers
finish (taking it back by preemption is not done here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from suanli.api.queues import (
    ANY_GPU,
    CPU_RESOURCE,
    MEMORY_RESOURCE,
    PRICE_RESOURCE,
    ComputeQueueSpec,
)

# Quota amounts are floats (GiB, cores): tolerate rounding when comparing sums.
_EPSILON = 1e-9


@dataclass(frozen=True)
class JobRequest:
    """A job's whole request: every replica of every task."""

    namespace: str
    name: str
    queue: str
    priority: int
    created: str  # RFC 3339, so text order is time order
    devices: float  # accelerator devices in all
    types: tuple[str, ...]  # accepted canonical types, in preference order; () = any
    cpu: float  # cores
    memory: float  # GiB

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class Charge:
    """What an admitted job holds of its queue's quota, and the types its devices may be."""

    queue: str
    amounts: tuple[tuple[str, float], ...]
    accelerator_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shortfall:
    """Why a request does not fit: the resource, and what it would take."""

    resource: str
    message: str


class QuotaBook:
    """Usage per queue and resource, from the charges of admitted jobs; changed by `hold`."""

    def __init__(
        self,
        queues: Mapping[str, ComputeQueueSpec],
        held: Iterable[Charge],
        history: Mapping[str, Mapping[str, float]] | None = None,
        spent: Mapping[str, float] | None = None,
        accounting_hours: float = 0.0,
    ) -> None:
        self.queues = dict(queues)
        # Per queue, USD spent in its budget period, and how far ahead admission must afford
        # what runs (the accounting interval, in hours).
        self.spent = dict(spent or {})
        self.accounting_hours = accounting_hours
        # Per queue, past usage per resource averaged over its half-life (fairshare.averaged).
        self.history = {q: dict(h) for q, h in (history or {}).items()}
        self._used: dict[tuple[str, str], float] = {}
        # Per queue and resource, the nominal quota its share is of: fixed for the book's life
        # and read for every queue at every step of a cycle, so worked out once.
        self._bases: dict[tuple[str, str], float] = {}
        self._cohorts: dict[str, list[str]] = {}
        for name in sorted(self.queues):
            cohort = self.queues[name].cohort
            if cohort is not None:
                self._cohorts.setdefault(cohort, []).append(name)
        for charge in held:
            self.hold(charge)

    def used(self, queue: str, resource: str) -> float:
        return self._used.get((queue, resource), 0.0)

    def hold(self, charge: Charge) -> None:
        for resource, amount in charge.amounts:
            key = (charge.queue, resource)
            self._used[key] = self._used.get(key, 0.0) + amount

    def release(self, charge: Charge) -> None:
        for resource, amount in charge.amounts:
            key = (charge.queue, resource)
            self._used[key] = self._used.get(key, 0.0) - amount

    def within_nominal(self, charge: Charge) -> bool:
        """Whether the queue stays within its nominal quota with the charge added."""
        spec = self.queues[charge.queue]
        for resource, amount in charge.amounts:
            quota = spec.quota(resource)
            if (
                quota is not None
                and self.used(charge.queue, resource) + amount > quota.nominal + _EPSILON
            ):
                return False
        return True

    def borrows(self, queue: str, resources: Iterable[str]) -> bool:
        """Whether the queue holds more than its nominal quota of any of the resources."""
        spec = self.queues[queue]
        return any(
            (quota := spec.quota(r)) is not None and self.used(queue, r) > quota.nominal + _EPSILON
            for r in resources
        )

    def cohort_of(self, queue: str) -> str | None:
        return self.queues[queue].cohort

    # --- what a job would take ---------------------------------------------------------------

    def options(
        self,
        job: JobRequest,
        known_types: Sequence[str],
        prices: Mapping[str, float] | None = None,
    ) -> list[Charge]:
        """The charges the job could be admitted with, in its order of preference: one per
        accelerator type the queue has a named quota for, and one for the `gpu` pool holding
        the accepted types it does not name (`known_types`, the catalog's, stand for "any").
        A queue with a budget also charges the devices' price per hour (`prices`, per device
        of each type; the dearest type of a pool counts)."""
        found = self._options(job, known_types)
        if self.queues[job.queue].budget is None or not prices:
            return found
        priced = []
        for charge in found:
            each = max((prices.get(t, 0.0) for t in charge.accelerator_types), default=0.0)
            price = round(job.devices * each, 6)
            amounts = (*charge.amounts, (PRICE_RESOURCE, price)) if price > 0 else charge.amounts
            priced.append(Charge(charge.queue, amounts, charge.accelerator_types))
        return priced

    def _options(self, job: JobRequest, known_types: Sequence[str]) -> list[Charge]:
        spec = self.queues[job.queue]
        limited = [(r, a) for r, a in ((CPU_RESOURCE, job.cpu), (MEMORY_RESOURCE, job.memory))]
        base = tuple((r, a) for r, a in limited if a > 0 and spec.quota(r) is not None)
        if job.devices <= 0:
            return [Charge(job.queue, base)]
        named = [q.resource for q in spec.quotas if q.resource not in _POOLS]
        accepted = list(job.types) or [*named, *(t for t in known_types if t not in named)]
        options: list[Charge] = []
        pooled = tuple(t for t in accepted if t not in named)
        for type_name in accepted:
            if type_name in named:
                options.append(Charge(job.queue, ((type_name, job.devices), *base), (type_name,)))
            elif type_name == pooled[0] and spec.quota(ANY_GPU) is not None:
                options.append(Charge(job.queue, ((ANY_GPU, job.devices), *base), pooled))
        return options

    def shortfall(self, charge: Charge) -> Shortfall | None:
        """Why the charge does not fit now (None: it fits)."""
        for resource, amount in charge.amounts:
            missing = self._short_of(charge.queue, resource, amount)
            if missing is not None:
                return Shortfall(resource, missing)
        return None

    def _short_of(self, queue: str, resource: str, amount: float) -> str | None:
        spec = self.queues[queue]
        if resource == PRICE_RESOURCE:
            return self._over_budget(queue, amount)
        quota = spec.quota(resource)
        if quota is None:
            return None
        held = self.used(queue, resource)
        after = held + amount
        wanted = f"needs {amount:g} {resource}; queue {queue} holds {held:g} of {quota.nominal:g}"
        if after > quota.nominal + _EPSILON:
            borrow = after - quota.nominal
            if spec.cohort is None:
                return f"{wanted} and has no cohort to borrow from"
            if quota.borrowing_limit is not None and borrow > quota.borrowing_limit + _EPSILON:
                return f"{wanted}; it may borrow {quota.borrowing_limit:g}, this needs {borrow:g}"
        if spec.cohort is None:
            return None
        lent, borrowed = self._cohort_balance(spec.cohort, resource, queue, after)
        if borrowed > lent + _EPSILON:
            if after <= quota.nominal + _EPSILON:
                return (
                    f"{wanted}; its idle quota is lent to queues of cohort {spec.cohort} and "
                    "comes back as their jobs finish"
                )
            idle = max(0.0, lent - (borrowed - max(0.0, after - quota.nominal)))
            return f"{wanted}; cohort {spec.cohort} has {idle:g} {resource} to lend"
        return None

    def borrowing(self, charge: Charge) -> tuple[str, ...]:
        """The resources of which the queue would hold more than its nominal quota with the
        charge added (what it would borrow from its cohort)."""
        spec = self.queues[charge.queue]
        return tuple(
            resource
            for resource, amount in charge.amounts
            if (quota := spec.quota(resource)) is not None
            and self.used(charge.queue, resource) + amount > quota.nominal + _EPSILON
        )

    def short_for_borrowers(self, charge: Charge) -> tuple[str, ...] | None:
        """The resources the charge is short of only because other queues of its cohort borrow
        them: it would fit if they borrowed none. None when something else keeps it out (its
        queue's own limits, what the lenders use themselves, its budget) or when it fits."""
        spec = self.queues[charge.queue]
        if spec.cohort is None:
            return None
        short: list[str] = []
        for resource, amount in charge.amounts:
            if resource == PRICE_RESOURCE:
                if self._over_budget(charge.queue, amount) is not None:
                    return None
                continue
            quota = spec.quota(resource)
            if quota is None:
                continue
            after = self.used(charge.queue, resource) + amount
            own = max(0.0, after - quota.nominal)
            if quota.borrowing_limit is not None and own > quota.borrowing_limit + _EPSILON:
                return None
            lent, borrowed = self._cohort_balance(spec.cohort, resource, charge.queue, after)
            if borrowed <= lent + _EPSILON:
                continue
            if own > lent + _EPSILON:
                return None  # more than the lenders leave idle, whoever else borrows
            short.append(resource)
        return tuple(short) or None

    def _over_budget(self, queue: str, price: float) -> str | None:
        budget = self.queues[queue].budget
        if budget is None:
            return None
        held = self.used(queue, PRICE_RESOURCE)
        ceiling = budget.max_price_per_hour
        if ceiling is not None and held + price > ceiling + _EPSILON:
            return (
                f"costs {price:g} USD/h; queue {queue}'s jobs cost {held:g} of its "
                f"{ceiling:g} USD/h budget"
            )
        spend = budget.spend
        if spend is not None:
            spent = self.spent.get(queue, 0.0)
            ahead = (held + price) * self.accounting_hours
            if spent + ahead > spend.limit + _EPSILON:
                return (
                    f"costs {price:g} USD/h; queue {queue} has spent {spent:g} of its "
                    f"{spend.limit:g} USD budget for {spend.period}: it waits for the next period"
                )
        return None

    def _cohort_balance(
        self, cohort: str, resource: str, queue: str, queue_after: float
    ) -> tuple[float, float]:
        """What the cohort's queues lend and borrow of `resource`, with `queue` at `queue_after`."""
        lent = borrowed = 0.0
        for member in self._cohorts.get(cohort, ()):
            quota = self.queues[member].quota(resource)
            if quota is None:
                continue
            held = queue_after if member == queue else self.used(member, resource)
            idle = max(0.0, quota.nominal - held)
            limit = quota.nominal if quota.lending_limit is None else quota.lending_limit
            lent += min(limit, idle)
            borrowed += max(0.0, held - quota.nominal)
        return lent, borrowed

    def fair_base(self, queue: str, resource: str) -> float:
        """The nominal quota of `resource` the queue's fair share is of: its cohort's (its
        own outside a cohort)."""
        known = self._bases.get((queue, resource))
        if known is not None:
            return known
        cohort = self.queues[queue].cohort
        members = [queue] if cohort is None else self._cohorts[cohort]
        base = sum(
            quota.nominal
            for member in members
            if (quota := self.queues[member].quota(resource)) is not None
        )
        self._bases[(queue, resource)] = base
        return base


_POOLS = frozenset({ANY_GPU, CPU_RESOURCE, MEMORY_RESOURCE})
