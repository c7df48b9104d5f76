"""The answer of `suanli plan` (`suanli.controller.plan`): its verdicts, its fields for a table
or for JSON, and its text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from suanli.api.durations import text as duration_text

FITS_NOW, FITS_LATER, NEVER_FITS, NO_ESTIMATE, NO_QUOTA = (
    "FitsNow",
    "FitsLater",
    "NeverFits",
    "NoEstimate",
    "WaitsForQuota",
)


@dataclass(frozen=True)
class PodPlan:
    pod: str
    node: str
    score: int
    breakdown: dict[str, float]
    price_per_hour: float


@dataclass
class Plan:
    """The answer, for a table or for JSON."""

    job: str
    verdict: str  # FitsNow, FitsLater, NeverFits, NoEstimate, WaitsForQuota
    reason: str = ""
    start: dt.datetime | None = None
    waits_for: list[str] = field(default_factory=list)
    pods: list[PodPlan] = field(default_factory=list)
    queue: str | None = None
    quota: dict[str, float] = field(default_factory=dict)  # resource -> amount it would hold
    accelerator_types: list[str] = field(default_factory=list)
    quota_reason: str = ""
    time_limit: str | None = None
    time_limit_source: str = ""
    price_per_hour: float | None = None
    cost_at_limit: float | None = None


def describe(plan: Plan, now: dt.datetime) -> list[str]:
    """The plan as lines of text (the table is the pods')."""
    lines = [f"job {plan.job}"]
    if plan.verdict == FITS_NOW:
        lines.append("fits now")
    elif plan.verdict == FITS_LATER and plan.start is not None:
        wait = duration_text((plan.start - now).total_seconds())
        ends = ", ".join(plan.waits_for) or "-"
        lines.append(f"fits later: earliest start {plan.start:%Y-%m-%dT%H:%M:%SZ} (in {wait})")
        lines.append(f"must end first: {ends}")
    elif plan.verdict == NEVER_FITS:
        lines.append(f"never fits: {plan.reason}")
    elif plan.verdict == NO_QUOTA:
        lines.append(f"waits for quota: {plan.reason}")
    else:
        lines.append(f"no estimate: {plan.reason}")
    if plan.queue:
        held = ", ".join(f"{r} {a:g}" for r, a in plan.quota.items()) or "-"
        types = f" (types {', '.join(plan.accelerator_types)})" if plan.accelerator_types else ""
        lines.append(f"queue {plan.queue}: would hold {held}{types}")
    else:
        lines.append("queue: none (admitted without quota)")
    limit = plan.time_limit or "none"
    source = f" ({plan.time_limit_source})" if plan.time_limit_source else ""
    lines.append(f"time limit: {limit}{source}")
    if plan.price_per_hour is not None:
        cost = (
            f"; at its limit {plan.cost_at_limit:.2f} USD" if plan.cost_at_limit is not None else ""
        )
        lines.append(f"price: {plan.price_per_hour:.2f} USD/h{cost}")
    return lines
