"""The operator's gauges, filled from its caches on every scrape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.controller.cache import JobKey
from suanli.metrics import OperatorMetrics


def export_gauges(
    metrics: OperatorMetrics,
    jobs: Mapping[JobKey, Mapping[str, Any]],
    queues: Mapping[str, Mapping[str, Any]],
) -> None:
    """Jobs by phase, cost by namespace, and each ComputeQueue's counts and quota."""
    metrics.jobs.clear()
    metrics.cost.clear()
    metrics.cost_accrued.clear()
    for (namespace, _), body in jobs.items():
        status = body.get("status") or {}
        metrics.jobs.labels(namespace, status.get("phase") or "Pending").inc()
        metrics.cost.labels(namespace).inc(float(status.get("pricePerHour") or 0))
        metrics.cost_accrued.labels(namespace).inc(float(status.get("costAccrued") or 0))
    metrics.queue_jobs.clear()
    metrics.queue_quota.clear()
    for name, queue in queues.items():
        counted = queue.get("status") or {}
        for state in ("pending", "admitted"):
            metrics.queue_jobs.labels(name, state).set(float(counted.get(state) or 0))
        for usage in counted.get("usage") or []:
            for amount in ("nominal", "used", "borrowed"):
                gauge = metrics.queue_quota.labels(name, usage["resource"], amount)
                gauge.set(float(usage.get(amount) or 0))
