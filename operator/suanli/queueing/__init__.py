"""Quota admission through ComputeQueues: pure (queues, admitted jobs and waiting jobs in,
admissions and reasons out)."""

from suanli.queueing.book import Charge, JobRequest, QuotaBook, Shortfall
from suanli.queueing.cycle import Admitted, CycleResult, Waiting, admission_cycle

__all__ = [
    "Admitted",
    "Charge",
    "CycleResult",
    "JobRequest",
    "QuotaBook",
    "Shortfall",
    "Waiting",
    "admission_cycle",
]
