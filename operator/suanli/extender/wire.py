"""The kube-scheduler extender protocol v1 on the wire (k8s.io/kube-scheduler/extender/v1).

The Go types carry no JSON tags, so the keys are the Go field names (`Pod`, `NodeNames`, ...).
Only what Suanli reads is modelled strictly; pods and nodes stay plain JSON objects, since the
scoring core reads them as the apiserver serves them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_SCORE = 10


class _Wire(BaseModel):
    # kube-scheduler may add fields in later versions: ignore what we do not read.
    model_config = ConfigDict(extra="ignore")


class ExtenderArgs(_Wire):
    """The body of /filter and /prioritize."""

    pod: dict[str, Any] = Field(alias="Pod")
    nodes: dict[str, Any] | None = Field(default=None, alias="Nodes")
    node_names: list[str] | None = Field(default=None, alias="NodeNames")

    def candidate_names(self) -> list[str]:
        if self.node_names is not None:
            return list(self.node_names)
        items = (self.nodes or {}).get("items") or []
        return [str(item.get("metadata", {}).get("name", "")) for item in items]


class ExtenderFilterResult(_Wire):
    node_names: list[str] | None = Field(default=None, alias="NodeNames")
    failed_nodes: dict[str, str] = Field(default_factory=dict, alias="FailedNodes")
    failed_and_unresolvable: dict[str, str] = Field(
        default_factory=dict, alias="FailedAndUnresolvableNodes"
    )
    error: str = Field(default="", alias="Error")

    @classmethod
    def answer(
        cls,
        node_names: list[str],
        failed: dict[str, str] | None = None,
        unresolvable: dict[str, str] | None = None,
    ) -> ExtenderFilterResult:
        """The extender's own answer, built without validation: its maps hold one entry per
        node, thousands on a large fleet, and they are ours, not input to check."""
        return cls.model_construct(
            node_names=node_names,
            failed_nodes=failed or {},
            failed_and_unresolvable=unresolvable or {},
            error="",
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "NodeNames": self.node_names,
            "FailedNodes": self.failed_nodes,
            "FailedAndUnresolvableNodes": self.failed_and_unresolvable,
            "Error": self.error,
        }


class HostPriority(_Wire):
    host: str = Field(alias="Host")
    score: int = Field(alias="Score", ge=0, le=MAX_SCORE)


class ExtenderBindingArgs(_Wire):
    pod_name: str = Field(alias="PodName", min_length=1)
    pod_namespace: str = Field(alias="PodNamespace", min_length=1)
    pod_uid: str = Field(alias="PodUID", min_length=1)
    node: str = Field(alias="Node", min_length=1)


class ExtenderBindingResult(_Wire):
    error: str = Field(default="", alias="Error")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def priorities_to_wire(priorities: list[HostPriority]) -> list[dict[str, Any]]:
    return [p.model_dump(by_alias=True) for p in priorities]
