"""Checks of a ComputeJob that need the accelerator catalog, which the CRD schema cannot know.

Everything else (counts, enums, cross-field rules) is refused by the CRD's schema and CEL rules;
the validating webhook runs these. Pure: a job and a catalog in, messages naming fields out.
"""

from __future__ import annotations

from suanli.api import ComputeJob, Task
from suanli.scoring import DEFAULT_CONFIG, AcceleratorType, Billing, Catalog, ScoringConfig


def _known_types(
    task: Task, where: str, catalog: Catalog
) -> tuple[list[AcceleratorType], list[str]]:
    known: list[AcceleratorType] = []
    problems: list[str] = []
    types = task.accelerators.types if task.accelerators else []
    for index, name in enumerate(types):
        found = catalog.get(name)
        if found is None:
            problems.append(
                f"{where}.types[{index}]: unknown accelerator type {name!r}; the catalog knows "
                f"{', '.join(sorted(catalog.names))} (add it to the catalog or pick one of these)"
            )
        else:
            known.append(found)
    # A pod's device request is fixed when it is created and names one resource, so one pod
    # cannot take whichever of two resources is free when it is scheduled.
    resources = {t.name: t.resource for t in known}
    if len(set(resources.values())) > 1:
        uses = ", ".join(f"{name} uses {resource}" for name, resource in resources.items())
        problems.append(
            f"{where}.types: the types need different device resources ({uses}); a pod requests "
            "one resource, so list only types of one resource in a task (submit one job per "
            "resource to try each)"
        )
    return known, problems


def _cheapest(candidates: list[AcceleratorType], count: int) -> AcceleratorType | None:
    return min(candidates, key=lambda t: (t.price_per_hour * count, t.name), default=None)


def _price_problem(
    job: ComputeJob,
    task: Task,
    known: list[AcceleratorType],
    catalog: Catalog,
    config: ScoringConfig,
) -> str | None:
    cost = job.spec.cost
    accelerators = task.accelerators
    if (
        cost is None
        or cost.max_price_per_hour is None
        or accelerators is None
        or not accelerators.count
    ):
        return None
    minimum = max(accelerators.min_memory_gib or 0, accelerators.memory_gib or 0)
    pool = known or list(catalog.types)
    candidates = [t for t in pool if t.memory_gib >= minimum] or pool
    cheapest = _cheapest(candidates, accelerators.count)
    if cheapest is None:
        return None
    # A share pays its fraction of the device (a memory-sized one at least its memory's part).
    devices: float = accelerators.count
    if accelerators.share is not None:
        devices = accelerators.share
    elif accelerators.memory_gib is not None:
        devices = min(1.0, accelerators.memory_gib / cheapest.memory_gib)
    multiplier = config.billing.of(Billing(cost.billing.value))
    price = cheapest.price_per_hour * devices * multiplier
    if price <= cost.max_price_per_hour:
        return None
    return (
        f"spec.cost.maxPricePerHour: {cost.max_price_per_hour:g} is below the cheapest accepted "
        f"placement of task {task.name!r} ({devices:g} x {cheapest.name} at "
        f"{price:.2f}/h {cost.billing.value}); raise the ceiling or accept cheaper types"
    )


def catalog_problems(
    job: ComputeJob, catalog: Catalog, config: ScoringConfig = DEFAULT_CONFIG
) -> list[str]:
    """Every problem found, each naming the field and the fix; empty when the job is fine."""
    problems: list[str] = []
    for index, task in enumerate(job.spec.tasks):
        where = f"spec.tasks[{index}].accelerators"
        known, found = _known_types(task, where, catalog)
        problems += found
        price = _price_problem(job, task, known, catalog, config)
        if price:
            problems.append(price)
    return problems
