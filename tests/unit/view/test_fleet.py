"""`top`'s fleet rows: nodes, devices, allocated, free and fragmented per type x tier x site."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.view import FleetRow, NodeKind, fleet_rows, node_cells
from tests.unit.view.fixtures import feed, pod

H100 = NodeKind("H100", "cloud", "us-east-1a")
T4 = NodeKind("T4", "edge", "sh-edge-1")
CPU = NodeKind("cpu", "cloud", "us-east-1c")


@dataclass(frozen=True)
class Case:
    name: str
    pods: list[dict[str, Any]]
    expected: dict[NodeKind, tuple[int, int, float, int, int]]  # nodes, devices, alloc, free, frag


CASES = [
    Case(
        "an idle fleet",
        [],
        {H100: (2, 16, 0, 16, 0), T4: (3, 3, 0, 3, 0), CPU: (2, 0, 0, 0, 0)},
    ),
    Case(
        "whole devices on two nodes",
        [pod("a", "h100-0", 8), pod("b", "h100-1", 3)],
        {H100: (2, 16, 11, 5, 0), T4: (3, 3, 0, 3, 0), CPU: (2, 0, 0, 0, 0)},
    ),
    Case(
        "a share leaves its device fragmented",
        [pod("s", "t4-edge-1", milli=250)],
        {H100: (2, 16, 0, 16, 0), T4: (3, 3, 0.25, 2, 1), CPU: (2, 0, 0, 0, 0)},
    ),
    Case(
        "finished pods hold nothing",
        [pod("done", "h100-0", 8, phase="Succeeded")],
        {H100: (2, 16, 0, 16, 0), T4: (3, 3, 0, 3, 0), CPU: (2, 0, 0, 0, 0)},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fleet_rows(case: Case) -> None:
    rows = fleet_rows(node_cells(feed(case.pods).state))
    assert rows == [FleetRow(kind, *case.expected[kind]) for kind in sorted(case.expected)]


def test_cells_carry_each_devices_use() -> None:
    cells = {c.name: c for c in node_cells(feed([pod("b", "h100-1", 3)]).state)}
    assert cells["h100-1"].used == (1000,) * 3 + (0,) * 5
    assert cells["cpu-0"].used == ()
    assert cells["t4-edge-0"].kind == T4
