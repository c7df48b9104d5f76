"""The simulated cluster: the shared `ClusterState`, fed from a trace instead of watches.

Pods land through `SimCluster.place`, which changes the state (what the `suanli` policy decides
on, with the extender's decider) and, in the same call, each node's plain numbers, the view the
baseline policies do their arithmetic on. Nodes whose facts are equal but for their name share a
profile: usage aside, the core cannot tell them apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from suanli.scoring import (
    MILLI_PER_DEVICE,
    Allocation,
    Catalog,
    NodeFacts,
    NodeSnapshot,
    PodDemand,
    Shape,
    node_facts,
)
from suanli.scoring.devices import allocate
from suanli.scoring.resources import CPU, MEMORY, PODS
from suanli.scoring.snapshot import PlacedPod
from suanli.simulate.trace import GPU_RESOURCE, NodeRow, node_object
from suanli.state import ClusterState, NodeEntry


@dataclass(frozen=True, slots=True)
class Request:
    """A pod's request in the numbers the quick checks use."""

    cpu: int  # milli-cores
    memory: int  # bytes
    whole: int  # whole devices
    milli: int  # or a share of one
    types: frozenset[str]  # accepted canonical types; empty: any

    @property
    def gpu_milli(self) -> int:
        return self.whole * MILLI_PER_DEVICE + self.milli


def request_of(demand: PodDemand, accepted: Sequence[str]) -> Request:
    return Request(
        cpu=demand.requests.amount(CPU),
        memory=demand.requests.amount(MEMORY),
        whole=demand.requests.amount(GPU_RESOURCE),
        milli=demand.gpu_milli,
        types=frozenset(accepted),
    )


class SimNode:
    """One node: facts, current usage, and the numbers derived from them."""

    __slots__ = (
        "cpu_cap",
        "cpu_free",
        "devices",
        "entry",
        "facts",
        "index",
        "mem_cap",
        "mem_free",
        "name",
        "pods_free",
        "profile",
        "type_name",
        "whole_used",
    )

    def __init__(self, index: int, facts: NodeFacts, profile: int, entry: NodeEntry) -> None:
        accelerator = facts.accelerator
        self.index = index
        self.name = facts.name
        self.facts = facts
        self.profile = profile
        self.type_name = accelerator.type.name if accelerator and accelerator.type else None
        self.cpu_cap = self.cpu_free = facts.allocatable.amount(CPU)
        self.mem_cap = self.mem_free = facts.allocatable.amount(MEMORY)
        self.pods_free = facts.allocatable.amount(PODS)
        self.devices: tuple[int, ...] = (0,) * (accelerator.count if accelerator else 0)
        self.whole_used = 0
        self.entry = entry

    @property
    def snapshot(self) -> NodeSnapshot:
        """The node as the scoring core sees it, from the state."""
        return self.entry.snapshot()

    @property
    def gpu_cap(self) -> int:
        return len(self.devices) * MILLI_PER_DEVICE

    @property
    def gpu_free(self) -> int:
        return self.gpu_cap - sum(self.devices)

    def key(self) -> tuple[int, int, int, int, tuple[int, ...]]:
        """Usage as the core sees it: nodes of one profile with equal keys score alike."""
        return (self.cpu_free, self.mem_free, self.pods_free, self.whole_used, self.devices)

    def fits(self, request: Request) -> bool:
        """Capacity right now (types are checked per profile)."""
        if request.cpu > self.cpu_free or request.memory > self.mem_free or self.pods_free < 1:
            return False
        if request.whole:
            return sum(1 for u in self.devices if u == 0) >= request.whole
        if request.milli:
            return bool(self.devices) and min(self.devices) <= MILLI_PER_DEVICE - request.milli
        return True

    def count(self, demand: PodDemand, allocation: Allocation) -> None:
        """The baselines' numbers after a pod lands; AllocationError rather than over-filling a
        device (checked before the state changes)."""
        self.devices = allocate(self.devices, allocation)
        requests = demand.requests
        self.cpu_free -= requests.amount(CPU)
        self.mem_free -= requests.amount(MEMORY)
        self.pods_free -= 1
        self.whole_used += requests.amount(GPU_RESOURCE)


def _node_facts(rows: Sequence[NodeRow], catalog: Catalog) -> list[NodeFacts]:
    """`node_facts` of each row's Node, parsed once per row apart from its name: the name is
    all of a Node that differs between such rows (and its hostname label, which no fact
    reads), and a trace's nodes are mostly alike."""
    parsed: dict[tuple[int, int, int, str], NodeFacts] = {}
    found = []
    for row in rows:
        facts = parsed.get(row.signature)
        if facts is None:
            facts = parsed[row.signature] = node_facts(node_object(row), catalog)
        found.append(facts if facts.name == row.sn else dataclasses.replace(facts, name=row.sn))
    return found


class SimCluster:
    def __init__(self, rows: Sequence[NodeRow], catalog: Catalog) -> None:
        facts = sorted(_node_facts(rows, catalog), key=lambda f: f.name)
        self.state = ClusterState()
        self.nodes: list[SimNode] = []
        self.by_name: dict[str, SimNode] = {}
        for index, parsed in enumerate(facts):
            self.state.set_node(parsed)
            # A profile is the node's class in the state (its facts without the name): a fresh
            # state numbers its classes 0, 1, ... in the order it meets them.
            entry = self.state.nodes[parsed.name]
            node = SimNode(index, parsed, entry.class_id, entry)
            self.nodes.append(node)
            self.by_name[node.name] = node
        self.profiles: list[list[SimNode]] = [
            [] for _ in range(len({n.profile for n in self.nodes}))
        ]
        for node in self.nodes:
            self.profiles[node.profile].append(node)
        self.gpu_capacity = sum(n.gpu_cap for n in self.nodes)
        self.gpu_allocated = 0
        self._placed = 0

    @property
    def idle(self) -> dict[str, int]:
        """Idle milli-devices per known accelerator type."""
        return self.state.idle_by_type()

    def place(
        self, node: SimNode, demand: PodDemand, allocation: Allocation, shape: Shape | None = None
    ) -> None:
        """A pod lands: the state counts it (with its request shape for the workload), and so
        do the baselines' numbers."""
        node.count(demand, allocation)
        self.gpu_allocated += sum(milli for _, milli in allocation)  # what `count` added
        self._placed += 1
        placed = PlacedPod(
            f"sim/{self._placed}",
            node.name,
            None,
            demand.requests,
            demand.gpu_milli,
            allocation or None,
        )
        self.state.set_pod(placed.key, placed, shape)

    def snapshots(self) -> list[NodeSnapshot]:
        return [n.snapshot for n in self.nodes]
