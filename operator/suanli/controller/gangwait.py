"""When a gang that was admitted but is not fully placed is taken down and planned again: once
its timeout has passed, or as soon as a member's planned node no longer has room for it (a pod
of another scheduler, or one bound before the extender saw the plan, took it). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from suanli.api import ComputeJobSpec, Condition, ConditionStatus
from suanli.controller.mpi import MpiLayout
from suanli.controller.podstatus import pod_node
from suanli.controller.slots import PodSlot


def gang_restart(  # noqa: PLR0917 - the gang's spec, standing, slots, layout, pods, clock, oracle
    spec: ComputeJobSpec,
    conditions: Sequence[Condition],
    slots: Sequence[PodSlot],
    mpi: MpiLayout | None,
    by_name: Mapping[str, Mapping[str, Any]],
    now: dt.datetime,
    rooms_gone: Callable[[list[Mapping[str, Any]]], list[str]],
) -> tuple[str, str] | None:
    """(reason, message) when the gang's pods go and it waits for a full placement again."""
    gang = spec.gang
    admitted = next((c for c in conditions if c.type == "Admitted"), None)
    if gang is None or admitted is None or admitted.status != ConditionStatus.TRUE or not by_name:
        return None
    bound = sum(1 for p in by_name.values() if pod_node(p))
    waited = (now - admitted.last_transition_time).total_seconds()
    # An MPI launcher is created only once its workers run, so it cannot hold the gang's
    # capacity while they wait: the timeout is about the other pods.
    launchers = sum(1 for s in slots if mpi and s.task == mpi.launcher)
    needed = min(gang.min_member, len(slots) - launchers)
    if bound >= needed:
        return None
    if waited > gang.timeout_seconds:
        return "GangTimeout", (
            f"only {bound} of {gang.min_member} gang pods were placed within "
            f"{gang.timeout_seconds} s; pods deleted, waiting for a full placement again"
        )
    refused = [p for p in by_name.values() if not pod_node(p) and _refused(p)]
    gone = rooms_gone(refused) if refused else []
    if not gone:
        return None
    return "PlannedRoomTaken", (
        f"the planned node of pod(s) {', '.join(sorted(gone))} no longer has room for "
        f"them (taken before the gang was bound); pods deleted, planning the gang again"
    )


def _refused(pod: Mapping[str, Any]) -> bool:
    """kube-scheduler found no node for the pod on its last attempt."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == "PodScheduled"
        and c.get("status") == "False"
        and c.get("reason") == "Unschedulable"
        for c in conditions
    )
