"""What a replay places, in order: a trace's pods in their arrival sequence, and their kinds
(each distinct pod parsed once, as the extender would read it)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from suanli.scoring import (
    Catalog,
    PodDemand,
    Shape,
    Workload,
    accepted_types,
    parse_pod,
    shape_of,
)
from suanli.simulate.cluster import Request, request_of
from suanli.simulate.trace import PodRow, pod_object


def arrival_sequence(
    pods: Sequence[PodRow], capacity_milli: int, seed: int, inflate: float
) -> list[PodRow]:
    rng = random.Random(seed)
    order = list(pods)
    rng.shuffle(order)
    target = inflate * capacity_milli
    if not any(p.gpu_request_milli for p in pods) or target <= 0:
        return order
    sequence: list[PodRow] = []
    total = 0
    for pod in order:
        sequence.append(pod)
        total += pod.gpu_request_milli
        if total >= target:
            return sequence
    extra = 0
    while total < target:
        pod = rng.choice(pods)
        extra += 1
        sequence.append(_renamed(pod, f"{pod.name}-r{extra}"))
        total += pod.gpu_request_milli
    return sequence


def _renamed(pod: PodRow, name: str) -> PodRow:
    return PodRow(name, pod.cpu_milli, pod.memory_mib, pod.num_gpu, pod.gpu_milli, pod.gpu_spec)


@dataclass(frozen=True, slots=True)
class Kind:
    """A pod kind parsed once: its demand as the extender would read it, and its shape."""

    demand: PodDemand
    request: Request
    shape: Shape | None


class Kinds:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._kinds: dict[object, Kind] = {}

    def of(self, pod: PodRow) -> Kind:
        kind = self._kinds.get(pod.signature)
        if kind is None:
            demand = parse_pod(pod_object(_renamed(pod, "kind")))
            accepted = accepted_types(demand, self.catalog)
            kind = Kind(demand, request_of(demand, accepted), shape_of(demand, accepted))
            self._kinds[pod.signature] = kind
        return kind


def trace_workload(sequence: Sequence[Kind]) -> Workload:
    """The shapes of the whole sequence (its pods' kinds, in order): the yardstick
    fragmentation is reported against."""
    counts = Counter(kind.shape for kind in sequence)
    return Workload.of((shape, count) for shape, count in counts.items() if shape is not None)
