"""The placement policies a replay can compare: the production scoring and common baselines.

Every policy sees the same feasibility (accepted models, whole devices idle, a device with room
for a share, cpu, memory, pod slots) and differs only in which feasible node it takes:

- `suanli`: the production scoring core (see `engine`), fragmentation-aware packing included.
- `fgd`: Fragmentation Gradient Descent (see `fgd`).
- `bestfit`: the least resources left after placing, summed over cpu, memory and GPU, each as a
  fraction of the node's capacity.
- `dotprod`: the smallest dot product of the pod's request and the node's free resources, both
  as fractions of the node's capacity (the Tetris alignment, used as a tight-fit rule).
- `packing`: GPU packing: a node whose partly used device takes the share, then nodes already
  in use, then idle ones; the fewest idle GPU milli left within a tier.
- `random`: any feasible node and device, uniformly (seeded).
- `k8s-default`: kube-scheduler's default scoring, least-allocated plus balanced-allocation over
  cpu and memory; devices first fit, as a device plugin without a policy hands them out.

Baselines take the tightest device for a share (first fit for `k8s-default`) and the
lowest-indexed idle devices for whole requests. Ties among nodes of equal cost follow a tie rule
(`TIE_RULES`): `own`, each policy's published rule (by name; a seeded node order for `fgd`),
`name`, or `seeded` (one seeded random order of the node names per replay).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from suanli.scoring import MILLI_PER_DEVICE, Allocation, PodDemand, Workload
from suanli.scoring.devices import GpuRequest, candidates
from suanli.simulate.cluster import Request, SimCluster, SimNode


@dataclass(frozen=True, slots=True)
class Placement:
    node: SimNode
    allocation: Allocation


class Policy(Protocol):
    name: str

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        """Where the pod goes (None: nowhere fits); the cluster is not changed here."""


TIE_RULES = ("own", "name", "seeded")


def node_order(cluster: SimCluster, seeded: bool, seed: int) -> Mapping[str, int]:
    """Each node's rank among equals: by name, or in one seeded random order of the names."""
    names = sorted(n.name for n in cluster.nodes)
    if seeded:
        random.Random(seed).shuffle(names)
    return {name: position for position, name in enumerate(names)}


def _gpu_request(request: Request) -> GpuRequest:
    return GpuRequest(request.whole, request.milli)


def feasible(cluster: SimCluster, request: Request) -> Iterator[SimNode]:
    """Nodes that can take the pod now, in name order."""
    wants_gpu = request.whole > 0 or request.milli > 0
    for members in cluster.profiles:
        first = members[0]
        if wants_gpu and not first.devices:
            continue
        if request.types and first.type_name not in request.types:
            continue
        yield from (n for n in members if n.fits(request))


def _tightest(node: SimNode, request: Request) -> Allocation:
    return candidates(node.devices, _gpu_request(request))[0]


def _first_fit(node: SimNode, request: Request) -> Allocation:
    if not request.milli:
        return _tightest(node, request)
    index = next(i for i, u in enumerate(node.devices) if u <= MILLI_PER_DEVICE - request.milli)
    return ((index, request.milli),)


def _fraction(free: int, cap: int) -> float:
    return free / cap if cap > 0 else 0.0


def _left_after(node: SimNode, request: Request) -> tuple[float, float, float]:
    """cpu, memory and GPU left after placing, as fractions of capacity."""
    return (
        _fraction(node.cpu_free - request.cpu, node.cpu_cap),
        _fraction(node.mem_free - request.memory, node.mem_cap),
        _fraction(node.gpu_free - request.gpu_milli, node.gpu_cap),
    )


def bestfit_cost(node: SimNode, request: Request) -> tuple[float, ...]:
    return (sum(_left_after(node, request)),)


def dotprod_cost(node: SimNode, request: Request) -> tuple[float, ...]:
    wanted = (
        _fraction(request.cpu, node.cpu_cap),
        _fraction(request.memory, node.mem_cap),
        _fraction(request.gpu_milli, node.gpu_cap),
    )
    free = (
        _fraction(node.cpu_free, node.cpu_cap),
        _fraction(node.mem_free, node.mem_cap),
        _fraction(node.gpu_free, node.gpu_cap),
    )
    return (sum(w * f for w, f in zip(wanted, free, strict=True)),)


def packing_cost(node: SimNode, request: Request) -> tuple[float, ...]:
    if request.milli and any(0 < u <= MILLI_PER_DEVICE - request.milli for u in node.devices):
        tier = 0  # a partly used device takes the share
    elif any(node.devices) or not node.devices:
        tier = 1  # GPUs already in use (or none to keep idle)
    else:
        tier = 2  # an idle GPU node
    return (tier, node.gpu_free - request.gpu_milli, node.cpu_free - request.cpu)


def k8s_default_cost(node: SimNode, request: Request) -> tuple[float, ...]:
    cpu_left, memory_left, _ = _left_after(node, request)
    least_allocated = (cpu_left + memory_left) / 2
    balanced = 1 - abs((1 - cpu_left) - (1 - memory_left)) / 2
    return (-(least_allocated + balanced),)


Cost = Callable[[SimNode, Request], tuple[float, ...]]
DeviceChoice = Callable[[SimNode, Request], Allocation]


class CostPolicy:
    """The feasible node of least cost (among equals, the first in `rank`; by name without)."""

    def __init__(
        self,
        name: str,
        cluster: SimCluster,
        cost: Cost,
        devices: DeviceChoice,
        rank: Mapping[str, int] | None = None,
    ) -> None:
        self.name = name
        self.cluster = cluster
        self.cost = cost
        self.devices = devices
        self.rank = rank

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        best: SimNode | None = None
        best_cost: tuple[float, ...] = ()
        for node in feasible(self.cluster, request):
            cost = self.cost(node, request)
            if self.rank is not None:
                cost = (*cost, self.rank[node.name])
            if best is None or cost < best_cost:
                best, best_cost = node, cost
        return None if best is None else Placement(best, self.devices(best, request))


class RandomPolicy:
    name = "random"

    def __init__(self, cluster: SimCluster, seed: int) -> None:
        self.cluster = cluster
        self.random = random.Random(seed)

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        nodes = list(feasible(self.cluster, request))
        if not nodes:
            return None
        node = self.random.choice(nodes)
        return Placement(node, self.random.choice(candidates(node.devices, _gpu_request(request))))


BASELINES: dict[str, tuple[Cost, DeviceChoice]] = {
    "bestfit": (bestfit_cost, _tightest),
    "dotprod": (dotprod_cost, _tightest),
    "packing": (packing_cost, _tightest),
    "k8s-default": (k8s_default_cost, _first_fit),
}
POLICY_NAMES = ("suanli", "fgd", "bestfit", "dotprod", "packing", "random", "k8s-default")
