"""The pods a ComputeJob needs, by deterministic name. Pure.

Names are `<job>-<task>-<index>`, so creating a pod twice (after a restart, a retry) is refused
by the apiserver instead of duplicating work; an MPI job's pods also use them as hostnames.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.api import ComputeJob


@dataclass(frozen=True)
class PodSlot:
    """One pod the job needs: task and index, whatever attempt is running in it."""

    name: str
    task: str
    index: int


def slots(job: ComputeJob, job_name: str) -> list[PodSlot]:
    return [
        PodSlot(f"{job_name}-{task.name}-{index}", task.name, index)
        for task in job.spec.tasks
        for index in range(task.replicas)
    ]
