"""Whether a gang whose member kube-scheduler refused should be planned again now: its planned
node has no room for the member in the operator's cluster state (`suanli.state.gang.rooms_gone`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from suanli.scoring import DemandError, PodDemand, parse_pod
from suanli.scoring.snapshot import PlacedPod
from suanli.state import planned_node_of
from suanli.state.earliest import Planner
from suanli.state.gang import rooms_gone


def planned_room_gone(
    planner: Planner, pods: Sequence[Mapping[str, Any]], reserved: Sequence[PlacedPod]
) -> list[str]:
    """The names of the refused pods whose planned node has no room for them any more."""
    waiting: list[tuple[PodDemand, str]] = []
    for pod in pods:
        node = planned_node_of(pod)
        if node is None:
            continue
        try:
            waiting.append((parse_pod(pod), node))
        except DemandError:
            continue  # such a pod is never planned: nothing to re-plan it by
    if not waiting:
        return []
    return rooms_gone(
        planner.feed,
        waiting,
        catalog=planner.catalog,
        latency=planner.latency,
        data_policy=planner.data_policy,
        reserved=reserved,
    )
