"""Quota admission through ComputeQueues: pure (queues, admitted jobs and waiting jobs in,
admissions and reasons out)."""

from suanli.queueing.book import Charge, JobRequest, QuotaBook, Shortfall
from suanli.queueing.cycle import Admitted, CycleResult, Waiting, admission_cycle
from suanli.queueing.preempt import Holder, Preemption, plan_preemption

__all__ = [
    "Admitted",
    "Charge",
    "CycleResult",
    "Holder",
    "JobRequest",
    "Preemption",
    "QuotaBook",
    "Shortfall",
    "Waiting",
    "admission_cycle",
    "plan_preemption",
]
