"""What a replay records: where each pod went, the GPU allocated as the arrived workload grows,
and the cluster's fragmentation at the first checkpoint."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.scoring import Workload, fragmentation, node_state
from suanli.simulate.cluster import SimCluster

CHECKPOINTS = (100, 130)  # arrived workload (%) at which unallocated GPU is reported


@dataclass
class Placed:
    pod: str
    node: str | None  # None: dropped
    devices: str = ""


@dataclass
class SeedResult:
    policy: str
    seed: int
    pods: int = 0
    placed: int = 0
    failed: int = 0
    seconds: float = 0.0  # wall clock
    # The replay's own CPU time: on a machine shared with other work, what it cost itself.
    cpu_seconds: float = 0.0
    unallocated: dict[int, float] = field(default_factory=dict)  # checkpoint % -> GPU %
    fragmentation_rate: float = 0.0  # fragmented / idle GPU at arrived 100 %, %
    fragmented: float = 0.0  # fragmented GPU at arrived 100 %, % of capacity
    curve: list[tuple[float, float]] = field(default_factory=list)  # (arrived %, allocated %)
    evaluated_nodes: int = 0
    placements: list[Placed] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "seed": self.seed,
            "pods": self.pods,
            "placed": self.placed,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "unallocated_gpu_pct": {str(k): round(v, 4) for k, v in self.unallocated.items()},
            "fragmentation_rate_pct": round(self.fragmentation_rate, 4),
            "fragmented_gpu_pct": round(self.fragmented, 4),
            "evaluated_nodes": self.evaluated_nodes,
        }


def cluster_fragmentation(cluster: SimCluster, workload: Workload) -> tuple[float, int]:
    """Expected fragmented GPU milli over all nodes, and the idle GPU milli."""
    # Nodes of one usage state are alike (class and usage): worked out once per state, the
    # same values summed in node order.
    known: dict[int, float] = {}
    values = []
    for node in cluster.nodes:
        value = known.get(node.entry.state)
        if value is None:
            value = known[node.entry.state] = fragmentation(node_state(node.snapshot), workload)
        values.append(value)
    fragmented = sum(values)
    return fragmented, cluster.gpu_capacity - cluster.gpu_allocated


class Recorder:
    """Arrived and allocated GPU after every pod, read out on a 1 % grid."""

    def __init__(self, capacity: int, result: SeedResult, trace_workload: Workload) -> None:
        self.capacity = capacity
        self.result = result
        self.workload = trace_workload
        self.next_point = 1

    def record(self, arrived: int, allocated: int, cluster: SimCluster) -> None:
        arrived_pct = 100 * arrived / self.capacity
        allocated_pct = 100 * allocated / self.capacity
        while self.next_point <= arrived_pct + 1e-9:
            point = self.next_point
            self.result.curve.append((point, allocated_pct))
            if point in CHECKPOINTS:
                self.result.unallocated[point] = 100 - allocated_pct
            if point == CHECKPOINTS[0]:
                fragmented, idle = cluster_fragmentation(cluster, self.workload)
                self.result.fragmentation_rate = 100 * fragmented / idle if idle else 0.0
                self.result.fragmented = 100 * fragmented / self.capacity
            self.next_point += 1


def unallocated_at(curve: Sequence[tuple[float, float]], arrived_pct: float) -> float:
    for point, allocated in curve:
        if point >= arrived_pct:
            return 100 - allocated
    return math.nan
