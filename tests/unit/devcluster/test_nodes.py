"""Which fleet nodes count as ready to time anything on: Ready, and no longer carrying the
taints kube-controller-manager puts on nodes that are not (yet) Ready."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.devcluster.nodes import is_settled


@dataclass(frozen=True)
class Case:
    name: str
    ready: str | None  # the Ready condition's status; None: no such condition
    taints: list[dict[str, str]] = field(default_factory=list)
    settled: bool = True


EDGE = {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}

CASES = [
    Case(name="ready and untainted", ready="True"),
    Case(name="ready with the fleet's own edge taint", ready="True", taints=[EDGE]),
    Case(name="ready but still tainted not-ready", ready="True", taints=[NOT_READY], settled=False),
    Case(
        name="ready but still tainted unreachable",
        ready="True",
        taints=[EDGE, UNREACHABLE],
        settled=False,
    ),
    Case(name="not ready", ready="False", settled=False),
    Case(name="no Ready condition yet", ready=None, settled=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_settled(case: Case) -> None:
    node: dict[str, Any] = {"spec": {"taints": case.taints}, "status": {"conditions": []}}
    if case.ready is not None:
        node["status"]["conditions"].append({"type": "Ready", "status": case.ready})
    assert is_settled(node) is case.settled
