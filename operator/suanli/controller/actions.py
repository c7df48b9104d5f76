"""What the job lifecycle (`suanli.controller.lifecycle`) reads and returns: the observed job
and pods with the facts it may ask for, and the actions it decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.api import ComputeJob, ComputeJobStatus
from suanli.controller.admission import Admission
from suanli.controller.quota import QuotaVerdict
from suanli.controller.slots import PodSlot
from suanli.queueing.runtime import RunLimits


@dataclass(frozen=True)
class PodToCreate:
    slot: PodSlot
    attempt: int
    planned_node: str | None = None


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Actions:
    create: list[PodToCreate] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    status: ComputeJobStatus = field(default_factory=ComputeJobStatus)
    events: list[Event] = field(default_factory=list)
    delete_job: bool = False
    # When time alone will change something (a deadline, a gang timeout, the TTL, cost): look again.
    requeue_after: float | None = None


@dataclass(frozen=True)
class Observed:
    job: ComputeJob
    meta: Mapping[str, Any]
    pods: Sequence[Mapping[str, Any]]
    now: dt.datetime
    admit: Callable[[list[PodSlot]], Admission]
    # Price per hour of a bound pod, and the canonical accelerator type of a node.
    price_of: Callable[[Mapping[str, Any]], float] = lambda _pod: 0.0
    accelerator_of: Callable[[str], str | None] = lambda _node: None
    # The job's standing in its ComputeQueue; None: it is not queued (no queue applies).
    quota: QuotaVerdict | None = None
    # For a job without a gang: None to create its pods as they come, else the backfill
    # verdict (a plan, or why it waits) while jobs wait ahead of it.
    gate: Callable[[list[PodSlot]], Admission | None] = lambda _missing: None
    # The run times it runs under (its own, or its queue's defaults).
    limits: RunLimits = field(default_factory=RunLimits)
    # Of a gang's pods that kube-scheduler refused, the names of those whose planned node has
    # no room for them any more in the operator's view of the cluster.
    rooms_gone: Callable[[list[Mapping[str, Any]]], list[str]] = lambda _pods: []
