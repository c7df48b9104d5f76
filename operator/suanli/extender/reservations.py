"""Room the operator planned for pods not bound yet: a pending pod of a ComputeJob that carries
`suanli.dev/planned-node` is counted on that node in the extender's state, so that the filters of
other pods see the room taken and go elsewhere. Without it, pods scheduled between a gang's plan
and its members' binds (a stream of batch pods, say) fill the planned nodes, and the gang's
pinned members wait there until the gang times out.

Only annotations the extender believes count (`suanli.extender.owners`): a pod nobody's
ComputeJob owns cannot reserve room by writing the annotation itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.extender.owners import KnownJobs, refusal
from suanli.state import ClusterFeed, planned_node_of


def planned_node(pod: Mapping[str, Any]) -> str | None:
    """The node the operator planned a pending pod on, when the pod may claim it."""
    metadata = pod.get("metadata") or {}
    node = planned_node_of(pod)
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if node is None or spec.get("nodeName"):
        return None
    if status.get("phase", "Pending") != "Pending" or metadata.get("deletionTimestamp"):
        return None
    return node


class Reservations:
    """Feeds the pending planned pods' watch into the state's reservations."""

    def __init__(self, feed: ClusterFeed, jobs: KnownJobs) -> None:
        self.feed = feed
        self.jobs = jobs

    def _claim(self, pod: Mapping[str, Any]) -> str | None:
        node = planned_node(pod)
        return node if node is not None and refusal(pod, self.jobs) is None else None

    def replace(self, pods: list[dict[str, Any]]) -> None:
        claims = [(pod, node) for pod in pods if (node := self._claim(pod)) is not None]
        self.feed.replace_reserved(claims)

    def apply(self, event: str, pod: dict[str, Any]) -> None:
        node = None if event == "DELETED" else self._claim(pod)
        if node is None:
            self.feed.unreserve(pod)
        else:
            self.feed.reserve(pod, node)
