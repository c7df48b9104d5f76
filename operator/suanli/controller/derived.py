"""The status fields a job's pods tell, set on every reconcile whatever the phase: where its
pods are placed (and the data placement trail), how many are ready, its nodes and accelerator
types, its price and accrued cost, and its time limit. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from suanli.api import Placement, ready_text
from suanli.controller.actions import Event, Observed
from suanli.controller.jobclock import TERMINAL
from suanli.controller.podstatus import cost, data_placed, placements, pod_node, pod_phase, summary


def derive(
    status: dict[str, Any],
    observed: Observed,
    pods: Sequence[Mapping[str, Any]],
    previous_placements: Sequence[Placement],
    slot_count: int,
) -> list[Event]:
    """Set the derived fields of `status` from the job's pods (those not being deleted);
    the events of sensitive data that went somewhere new."""
    counted = [p for p in observed.pods if pod_phase(p) in ("Running", "Succeeded", "Failed")]
    bound = [p for p in pods if pod_node(p)]
    status["placements"] = placements(observed.accelerator_of, bound)
    # The job's own audit trail of where its sensitive data went, and by which rule.
    events = [
        Event("Normal", "DataPlacement", message)
        for message in data_placed(previous_placements, status["placements"])
    ]
    status["placed"] = len(bound)
    ready = sum(1 for p in pods if pod_phase(p) in ("Running", "Succeeded"))
    status["tasks_ready"], status["tasks_total"] = ready, slot_count
    status["ready"] = ready_text(ready, slot_count)
    nodes = {str(pod_node(p)) for p in bound}
    status["accelerator_type"] = summary(
        [t for t in map(observed.accelerator_of, nodes) if t is not None]
    )
    status["nodes"] = summary(list(nodes))
    per_hour, accrued = cost(observed.price_of, observed.now, counted)
    if status["phase"] in TERMINAL:
        per_hour = 0.0
    status["price_per_hour"] = per_hour
    status["cost_accrued"] = max(accrued, status["cost_accrued"] or 0.0)
    status["observed_generation"] = observed.meta.get("generation")
    status["time_limit"] = observed.limits.time_limit_text
    return events
