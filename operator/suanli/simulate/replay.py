"""One replay: a trace's pods arrive one at a time on a fresh cluster under one policy.

Protocol: the pods are shuffled with the seed, then pods resampled (with replacement, same seed)
are appended until the GPU request of the sequence reaches `inflate` x the cluster's capacity;
the sequence ends with the pod that crosses that line. Pods never leave; a pod that fits nowhere
is dropped and counts as arrived. After every pod the arrived workload (GPU requested so far,
dropped pods included) and the GPU allocated are recorded, both as % of capacity.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from suanli.scoring import (
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    PodDemand,
    Shape,
    Workload,
    accepted_types,
    format_allocation,
    fragmentation,
    node_state,
    parse_pod,
    shape_of,
    with_pressure,
)
from suanli.simulate.cluster import Request, SimCluster, request_of
from suanli.simulate.engine import SuanliPolicy
from suanli.simulate.fgd import FgdPolicy, typical_pods
from suanli.simulate.policies import (
    BASELINES,
    TIE_RULES,
    CostPolicy,
    Placement,
    Policy,
    RandomPolicy,
    node_order,
)
from suanli.simulate.trace import NodeRow, PodRow, pod_object

CHECKPOINTS = (100, 130)  # arrived workload (%) at which unallocated GPU is reported


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


def make_policy(
    name: str,
    cluster: SimCluster,
    catalog: Catalog,
    latency: LatencyMap,
    seed: int,
    *,
    trace: Sequence[Request] = (),
    ties: str = "own",
) -> Policy:
    """The policy `name`; `trace` (the requests to be replayed) gives `fgd` its typical pods;
    `ties` (of `TIE_RULES`) orders nodes of equal cost for `fgd` and the cost baselines."""
    if ties not in TIE_RULES:
        raise ValueError(f"ties: {ties!r} is not one of {', '.join(TIE_RULES)}")
    if name == "suanli":
        return SuanliPolicy(cluster, catalog, latency)
    if name == "fgd":
        order = node_order(cluster, ties != "name", seed)
        return FgdPolicy(cluster, typical_pods(trace), order)
    if name == "random":
        return RandomPolicy(cluster, seed)
    if name in BASELINES:
        cost, devices = BASELINES[name]
        rank = node_order(cluster, True, seed) if ties == "seeded" else None
        return CostPolicy(name, cluster, cost, devices, rank)
    raise ValueError(f"unknown policy {name!r}")


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


class _Recorder:
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


def trace_workload(kinds: Kinds, sequence: Sequence[PodRow]) -> Workload:
    """The shapes of the whole sequence: the yardstick fragmentation is reported against."""
    counts = Counter(kinds.of(p).shape for p in sequence)
    return Workload.of((shape, count) for shape, count in counts.items() if shape is not None)


def replay(
    nodes: Sequence[NodeRow],
    sequence: Sequence[PodRow],
    policy_name: str,
    *,
    catalog: Catalog,
    latency: LatencyMap,
    seed: int = 0,
    keep_placements: bool = False,
    ties: str = "own",
) -> SeedResult:
    """Place `sequence` in order on a fresh cluster of `nodes` with one policy."""
    # The collector is back on once the replay's cluster and memos are gone (freed as they
    # go out of use when `_replay` returns), not while they would all be walked once more.
    with _collector_paused():
        return _replay(
            nodes,
            sequence,
            policy_name,
            catalog=catalog,
            latency=latency,
            seed=seed,
            keep_placements=keep_placements,
            ties=ties,
        )


def _replay(
    nodes: Sequence[NodeRow],
    sequence: Sequence[PodRow],
    policy_name: str,
    *,
    catalog: Catalog,
    latency: LatencyMap,
    seed: int,
    keep_placements: bool,
    ties: str,
) -> SeedResult:
    began, began_cpu = time.perf_counter(), time.process_time()
    cluster = SimCluster(nodes, catalog)
    kinds = Kinds(catalog)
    of_pods = [kinds.of(p) for p in sequence]  # each pod's kind, read once
    trace = [kind.request for kind in of_pods]
    policy = make_policy(policy_name, cluster, catalog, latency, seed, trace=trace, ties=ties)
    result = SeedResult(policy_name, seed, pods=len(sequence))
    yardstick = trace_workload(kinds, sequence)
    recorder = _Recorder(max(1, cluster.gpu_capacity), result, yardstick)
    arrived = allocated = 0
    workload = NO_WORKLOAD
    state = cluster.state
    idle_seen = -1  # the state's idle version `workload` was derived at
    for pod, kind in zip(sequence, of_pods, strict=True):
        arrived += pod.gpu_request_milli
        # The live extender learns the mix from the pods it has placed; so does the replay.
        learnt = state.histogram.workload()
        # The pressure is read only as capacity kept for typed pods that a pod takes, none for
        # a pod without devices: the last workload of the same shapes serves it alike. While
        # the idle capacity stays, so does the pressure: the last workload serves any pod.
        if workload.index is not learnt.index or (
            kind.demand.gpu.total_milli and state.idle_version != idle_seen
        ):
            workload, idle_seen = with_pressure(learnt, cluster.idle), state.idle_version
        placement = policy.place(kind.demand, kind.request, workload)
        if placement is None:
            result.failed += 1
        else:
            cluster.place(placement.node, kind.demand, placement.allocation, kind.shape)
            allocated += kind.request.gpu_milli
            result.placed += 1
        if keep_placements:
            result.placements.append(_placed(pod, placement))
        recorder.record(arrived, allocated, cluster)
    result.seconds = time.perf_counter() - began
    result.cpu_seconds = time.process_time() - began_cpu
    result.evaluated_nodes = getattr(policy, "evaluated", 0)
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one replay, as it was before afterwards. A replay
    keeps making memo entries (tuples, floats, small dicts) that live as long as it does and
    form no cycles of note, and the collector kept walking them: about 9 % of a replay's CPU
    time on the dev trace. The cycles a replay does leave (some 26 000 objects on the dev trace,
    mostly the workloads it derived) are the collector's again once it is back on; the rest
    is freed as it goes out of use, before that."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _placed(pod: PodRow, placement: Placement | None) -> Placed:
    if placement is None:
        return Placed(pod.name, None)
    return Placed(pod.name, placement.node.name, format_allocation(placement.allocation))


def unallocated_at(curve: Sequence[tuple[float, float]], arrived_pct: float) -> float:
    for point, allocated in curve:
        if point >= arrived_pct:
            return 100 - allocated
    return math.nan
