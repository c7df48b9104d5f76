"""The fleet by accelerator type x tier x site: nodes, devices, allocated, free, fragmented.

Read from the one `ClusterState` (the facts the scheduler parsed and the devices its pods hold),
so `top` and the web view count exactly what the extender decides on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from suanli.scoring import MILLI_PER_DEVICE, NodeFacts
from suanli.state import ClusterState

CPU_ONLY = "cpu"  # the accelerator column of a node without devices
NO_SITE = "-"


@dataclass(frozen=True, slots=True, order=True)
class NodeKind:
    """What a person groups nodes by: the device type, the tier and where it is."""

    accelerator: str
    tier: str
    site: str

    @property
    def label(self) -> str:
        return f"{self.accelerator} / {self.tier} / {self.site}"


def node_kind(facts: NodeFacts) -> NodeKind:
    accelerator = facts.accelerator.type_name if facts.accelerator is not None else CPU_ONLY
    # Edge sites carry a site; cloud nodes often only a zone or region: the most specific wins.
    site = next((p for p in facts.places if p), NO_SITE)
    return NodeKind(accelerator, facts.tier.value, site)


@dataclass(frozen=True, slots=True)
class NodeCell:
    """One node of the heat map: its kind and the milli-devices used on each device."""

    name: str
    kind: NodeKind
    used: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FleetRow:
    kind: NodeKind
    nodes: int
    devices: int
    allocated: float  # devices held by pods, shares counted by their fraction
    free: int  # whole idle devices
    fragmented: int  # devices partly used: their free share fits no whole-device pod


def node_cells(state: ClusterState) -> list[NodeCell]:
    """Every node the state knows, by name."""
    kinds: dict[int, NodeKind] = {}  # nodes of one class are of one kind: read it once
    cells = []
    with state.lock:
        for name in state.names():
            entry = state.nodes[name]
            kind = kinds.get(entry.class_id)
            if kind is None:
                kind = kinds[entry.class_id] = node_kind(entry.facts)
            cells.append(NodeCell(name, kind, entry.snapshot().devices_used()))
    return cells


def fleet_rows(cells: Iterable[NodeCell]) -> list[FleetRow]:
    """One row per node kind, sorted by kind."""
    totals: dict[NodeKind, list[int]] = {}
    for cell in cells:
        row = totals.setdefault(cell.kind, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += len(cell.used)
        row[2] += sum(cell.used)
        row[3] += sum(1 for u in cell.used if u == 0)
        row[4] += sum(1 for u in cell.used if 0 < u < MILLI_PER_DEVICE)
    return [
        FleetRow(kind, nodes, devices, milli / MILLI_PER_DEVICE, free, fragmented)
        for kind, (nodes, devices, milli, free, fragmented) in sorted(totals.items())
    ]
