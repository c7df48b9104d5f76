"""Text for a terminal and plain data for `-o json`: the view's rows, formatted. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from suanli.view.explain import JobExplanation
from suanli.view.fleet import FleetRow
from suanli.view.queues import QueueRow


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, as `kubectl get` prints."""
    cells = [list(map(str, header)), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def top_text(fleet: Sequence[FleetRow], queues: Sequence[QueueRow]) -> str:
    fleet_table = table(
        ("ACCELERATOR", "TIER", "SITE", "NODES", "DEVICES", "ALLOCATED", "FREE", "FRAGMENTED"),
        [
            (
                r.kind.accelerator,
                r.kind.tier,
                r.kind.site,
                r.nodes,
                r.devices,
                f"{r.allocated:g}",
                r.free,
                r.fragmented,
            )
            for r in fleet
        ],
    )
    if not queues:
        return fleet_table + "\n\nno ComputeQueues"
    queue_table = table(
        ("QUEUE", "COHORT", "USAGE/QUOTA", "PENDING", "ADMITTED"),
        [(q.name, q.cohort or "-", q.usage_text, q.pending, q.admitted) for q in queues],
    )
    return f"{fleet_table}\n\n{queue_table}"


def _money(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"${value:.4f}{suffix}"


def explain_text(job: JobExplanation) -> str:
    lines = [f"{job.namespace}/{job.name}: {job.phase}"]
    if job.queue:
        where = f" (position {job.queue_position})" if job.queue_position else ""
        lines.append(f"queue: {job.queue}{where}")
    lines.append(f"cost: {_money(job.price_per_hour, '/h')} now, {_money(job.cost_accrued)} so far")
    if job.estimated_start:
        lines.append(f"estimated start: {job.estimated_start}")
    lines.extend(f"blocked: {b.type} {b.reason}: {b.message}" for b in job.blockers)
    if job.placements:
        lines += ["", "placements:"]
        rows = [
            (
                p.pod,
                p.node,
                p.phase,
                "-" if p.score is None else p.score,
                " ".join(f"{k}={v:.2f}" for k, v in p.breakdown.items()) or "-",
                ", ".join(f"{n} ({s})" for n, s in p.runners_up) or "-",
            )
            for p in job.placements
        ]
        lines.append(table(("POD", "NODE", "PHASE", "SCORE", "BREAKDOWN", "RUNNERS-UP"), rows))
    if job.waiting_pods:
        lines += ["", f"waiting pods: {', '.join(job.waiting_pods)}"]
    if job.waiting:
        lines += ["", "why, by node kind:"]
        waits = [
            (w.kind.accelerator, w.kind.tier, w.kind.site, w.nodes, w.reason) for w in job.waiting
        ]
        lines.append(table(("ACCELERATOR", "TIER", "SITE", "NODES", "REASON"), waits))
    elif job.unschedulable:
        lines += ["", f"why it waits: {job.unschedulable}"]
    return "\n".join(lines)


def as_data(value: Any) -> Any:
    """Dataclasses (in lists and dicts too) as JSON-ready data, field names as written."""
    if isinstance(value, dict):
        return {key: as_data(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
