"""Reading a job's pods, and the status fields derived from them (placements, summaries,
cost, why pods wait). Pure."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from suanli.api import MAX_STATUS_PLACEMENTS, DataPlacement, Placement, ScoreBreakdown
from suanli.controller.conditions import MAX_MESSAGE
from suanli.keys import (
    ATTEMPT_ANNOTATION,
    PLACEMENT_ANNOTATION,
    TASK_LABEL,
    UNSCHEDULABLE_ANNOTATION,
)


def pod_name(pod: Mapping[str, Any]) -> str:
    return str(pod["metadata"]["name"])


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def pod_node(pod: Mapping[str, Any]) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """The kubelet's Ready condition: the containers run and pass their readiness probes."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_names(pods: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(sorted(pod_name(p) for p in pods))


def deleting(pod: Mapping[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def attempt_of(pod: Mapping[str, Any]) -> int:
    text = (pod["metadata"].get("annotations") or {}).get(ATTEMPT_ANNOTATION, "1")
    return int(text) if str(text).isdigit() else 1


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def finished_at(pod: Mapping[str, Any]) -> dt.datetime | None:
    ends = [
        parse_time((s.get("state") or {}).get("terminated", {}).get("finishedAt"))
        for s in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    known = [e for e in ends if e is not None]
    return max(known) if known else None


# --- status pieces ------------------------------------------------------------------------------


def placements(
    accelerator_of: Callable[[str], str | None], bound: Sequence[Mapping[str, Any]]
) -> list[Placement]:
    """The first MAX_STATUS_PLACEMENTS bound pods by name, with their explanation."""
    placements = []
    for pod in sorted(bound, key=pod_name)[:MAX_STATUS_PLACEMENTS]:
        node = str(pod_node(pod))
        raw = (pod["metadata"].get("annotations") or {}).get(PLACEMENT_ANNOTATION)
        explained = json.loads(raw) if raw else {}
        breakdown = explained.get("breakdown")
        data = explained.get("data")
        placements.append(
            Placement(
                pod=pod_name(pod),
                node=node,
                task=(pod["metadata"].get("labels") or {}).get(TASK_LABEL),
                accelerator_type=accelerator_of(node),
                score=explained.get("score"),
                breakdown=ScoreBreakdown.model_validate(breakdown) if breakdown else None,
                data=DataPlacement.model_validate(data) if data else None,
            )
        )
    return placements


def data_placed(previous: Sequence[Placement], now: Sequence[Placement]) -> list[str]:
    """What the job's events say of placements of sensitive data new since the last status:
    `pod x on node y: confidential data allowed by data policy default rule cloud-tee (...)`."""
    known = {(p.pod, p.node) for p in previous}
    return [
        f"pod {p.pod} on {p.node}: {p.data.classification} data allowed by data policy "
        f"{p.data.policy} rule {p.data.rule} ({p.data.basis})"
        for p in now
        if p.data is not None and (p.pod, p.node) not in known
    ]


def summary(values: Sequence[str], limit: int = 3) -> str | None:
    distinct = sorted(set(values))
    if not distinct:
        return None
    more = f" (+{len(distinct) - limit})" if len(distinct) > limit else ""
    return ",".join(distinct[:limit]) + more


def cost(
    price_of: Callable[[Mapping[str, Any]], float],
    now: dt.datetime,
    pods: Sequence[Mapping[str, Any]],
) -> tuple[float, float]:
    """Price per hour of the pods running now, and the cost accrued by every pod so far."""
    per_hour = 0.0
    accrued = 0.0
    for pod in pods:
        started = parse_time((pod.get("status") or {}).get("startTime"))
        if not pod_node(pod) or started is None:
            continue
        price = price_of(pod)
        ended = finished_at(pod) if pod_phase(pod) in ("Succeeded", "Failed") else None
        if ended is None:
            per_hour += price
        accrued += price * max(0.0, ((ended or now) - started).total_seconds()) / 3600
    return round(per_hour, 4), round(accrued, 4)


def unschedulable(pods: Sequence[Mapping[str, Any]]) -> str | None:
    reasons = [
        str((p["metadata"].get("annotations") or {}).get(UNSCHEDULABLE_ANNOTATION))
        for p in pods
        if not pod_node(p)
        and (p["metadata"].get("annotations") or {}).get(UNSCHEDULABLE_ANNOTATION)
    ]
    return "; ".join(sorted(set(reasons)))[:MAX_MESSAGE] if reasons else None
