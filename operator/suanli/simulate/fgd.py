"""`fgd`: Fragmentation Gradient Descent (Weng et al., USENIX ATC 2023), as a replay policy.

A node's fragmentation, measured against one typical pod shape, is the GPU milli on it that
shape cannot use: every idle milli when the shape cannot be hosted at all (too little cpu, no
device of an accepted model, too few devices with room, or a shape that asks for no GPU), and
otherwise the idle milli on the devices with less room than one of its devices needs. Weighted by
the shapes' frequencies in the trace, that is the node's expected fragmentation F. Each feasible
node scores `trunc(100 * sigmoid((F_before - F_after) / 1000))` with F in GPU milli, the integer
score of the published plugin; the highest score wins. A share pod takes the device whose fill
grows F the least. Many nodes tie at an integer score; ties go to the node first in the given
order (its own rule: a seeded random order of node names, drawn once per replay, as the
published simulator's seeded node order does).

The typical shapes are the most frequent (cpu, milli per device, device count, accepted models)
of the replayed sequence, taken in order of frequency until they cover 95 % of its pods; each
weighs its share of all the pods.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from suanli.scoring import MILLI_PER_DEVICE, Allocation, PodDemand, Workload
from suanli.simulate.cluster import Request, SimCluster, SimNode
from suanli.simulate.policies import Placement, feasible

COVERAGE = 0.95
MEMO_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class TypicalPod:
    """One pod shape of the trace and its weight (its share of all the trace's pods)."""

    cpu: int  # milli-cores
    per_device: int  # milli each device must have free: the share, or 1000 for whole devices
    count: int  # devices; 0 for a pod without GPU
    types: frozenset[str]  # accepted models; empty: any
    weight: float


def _shape(request: Request) -> tuple[int, int, int, frozenset[str]]:
    if request.whole:
        return (request.cpu, MILLI_PER_DEVICE, request.whole, request.types)
    if request.milli:
        return (request.cpu, request.milli, 1, request.types)
    return (request.cpu, 0, 0, frozenset())


def typical_pods(requests: Iterable[Request], coverage: float = COVERAGE) -> tuple[TypicalPod, ...]:
    """The most frequent shapes until they cover `coverage` of the pods (ties by shape, so the
    set is the same for the same trace)."""
    counts = Counter(_shape(r) for r in requests)
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], _sort_key(item[0])))
    typical: list[TypicalPod] = []
    covered = 0
    for (cpu, per_device, count, types), seen in ordered:
        if covered >= coverage * total:
            break
        typical.append(TypicalPod(cpu, per_device, count, types, seen / total))
        covered += seen
    return tuple(typical)


def _sort_key(shape: tuple[int, int, int, frozenset[str]]) -> tuple[int, int, int, tuple[str, ...]]:
    cpu, per_device, count, types = shape
    return (cpu, per_device, count, tuple(sorted(types)))


def fragmentation(
    free: Sequence[int], cpu_free: int, type_name: str | None, typical: Sequence[TypicalPod]
) -> float:
    """Expected fragmented GPU milli of a node with `free` milli on each device."""
    idle = sum(free)
    expected = 0.0
    for pod in typical:
        hosted = (
            pod.count > 0
            and cpu_free >= pod.cpu
            and (not pod.types or type_name in pod.types)
            and sum(1 for f in free if f >= pod.per_device) >= pod.count
        )
        lost = sum(f for f in free if f < pod.per_device) if hosted else idle
        expected += lost * pod.weight
    return expected


def score(before: float, after: float) -> int:
    """The plugin's integer score for a change of F (GPU milli)."""
    return math.trunc(100 / (1 + math.exp(-(before - after) / MILLI_PER_DEVICE)))


class FgdPolicy:
    name = "fgd"

    def __init__(
        self, cluster: SimCluster, typical: Sequence[TypicalPod], rank: Mapping[str, int]
    ) -> None:
        self.cluster = cluster
        self.typical = tuple(typical)
        self.rank = rank
        self._memo: dict[tuple[str | None, int, tuple[int, ...]], float] = {}

    def _fragmentation(self, node_type: str | None, cpu_free: int, free: tuple[int, ...]) -> float:
        key = (node_type, cpu_free, free)
        value = self._memo.get(key)
        if value is None:
            if len(self._memo) > MEMO_LIMIT:
                self._memo.clear()  # a long replay visits many states; keep memory bounded
            value = fragmentation(free, cpu_free, node_type, self.typical)
            self._memo[key] = value
        return value

    def _best_on(self, node: SimNode, request: Request) -> tuple[int, Allocation]:
        """The node's score for the pod and the devices that give it."""
        free = tuple(MILLI_PER_DEVICE - u for u in node.devices)
        before = self._fragmentation(node.type_name, node.cpu_free, free)
        cpu_after = node.cpu_free - request.cpu
        choices: list[Allocation]
        if request.whole:
            idle = [i for i, f in enumerate(free) if f == MILLI_PER_DEVICE][: request.whole]
            choices = [tuple((i, MILLI_PER_DEVICE) for i in idle)]
        elif request.milli:
            choices = [((i, request.milli),) for i, f in enumerate(free) if f >= request.milli]
        else:
            choices = [()]
        best: tuple[int, Allocation] | None = None
        for allocation in choices:
            after_free = list(free)
            for index, milli in allocation:
                after_free[index] -= milli
            after = self._fragmentation(node.type_name, cpu_after, tuple(after_free))
            candidate = (score(before, after), allocation)
            if best is None or candidate[0] > best[0]:
                best = candidate
        assert best is not None  # a feasible node has at least one choice
        return best

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        best: tuple[tuple[int, int], SimNode, Allocation] | None = None
        states: dict[tuple[object, ...], tuple[int, Allocation]] = {}
        for node in feasible(self.cluster, request):
            # Nodes of one profile in one state score alike: evaluate each state once.
            state = (node.profile, *node.key())
            if state not in states:
                states[state] = self._best_on(node, request)
            node_score, allocation = states[state]
            order = (-node_score, self.rank[node.name])  # highest score, then first in rank
            if best is None or order < best[0]:
                best = (order, node, allocation)
        return None if best is None else Placement(best[1], best[2])
