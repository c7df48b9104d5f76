"""ComputeQueues as rows: usage against quota, pending and admitted jobs, as the operator counted.

The operator's quota gate owns these numbers (`status`); the view only reads them, so `top`
and the web view agree with `kubectl get computequeues`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from suanli.api.queues import ComputeQueueStatus


@dataclass(frozen=True, slots=True)
class QuotaUse:
    resource: str
    used: float
    nominal: float
    borrowed: float


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    cohort: str | None
    usage: tuple[QuotaUse, ...]
    pending: int
    admitted: int

    @property
    def usage_text(self) -> str:
        """`H100 12/16 gpu 2/8`, or `-` before the operator has counted."""
        return " ".join(f"{u.resource} {u.used:g}/{u.nominal:g}" for u in self.usage) or "-"


def _status(raw: Any) -> ComputeQueueStatus:
    try:
        return ComputeQueueStatus.model_validate(raw or {})
    except ValidationError:
        # A status this version cannot read (a newer operator's): shown as not counted yet.
        return ComputeQueueStatus()


def queue_row(queue: Mapping[str, Any]) -> QueueRow:
    status = _status(queue.get("status"))
    spec = queue.get("spec") or {}
    usage = {u.resource: u for u in status.usage}
    quotas = [
        QuotaUse(
            str(q.get("resource")),
            float(usage[r].used) if (r := str(q.get("resource"))) in usage else 0.0,
            float(q.get("nominal") or 0),
            float(usage[r].borrowed) if r in usage else 0.0,
        )
        for q in spec.get("quotas") or []
    ]
    cohort = spec.get("cohort")
    return QueueRow(
        str((queue.get("metadata") or {}).get("name") or ""),
        str(cohort) if cohort else None,
        tuple(quotas),
        status.pending,
        status.admitted,
    )


def queue_rows(queues: Iterable[Mapping[str, Any]]) -> list[QueueRow]:
    return sorted((queue_row(q) for q in queues), key=lambda row: row.name)
