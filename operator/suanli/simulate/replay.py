"""One replay: a trace's pods arrive one at a time on a fresh cluster under one policy.

Protocol: the pods are shuffled with the seed, then pods resampled (with replacement, same seed)
are appended until the GPU request of the sequence reaches `inflate` x the cluster's capacity;
the sequence ends with the pod that crosses that line. Pods never leave; a pod that fits nowhere
is dropped and counts as arrived. After every pod the arrived workload (GPU requested so far,
dropped pods included) and the GPU allocated are recorded, both as % of capacity.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from suanli.scoring import NO_WORKLOAD, Catalog, LatencyMap, format_allocation, with_pressure
from suanli.simulate.arrivals import Kinds, trace_workload
from suanli.simulate.cluster import Request, SimCluster
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
from suanli.simulate.results import Placed, Recorder, SeedResult
from suanli.simulate.trace import NodeRow, PodRow


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
    yardstick = trace_workload(of_pods)
    recorder = Recorder(max(1, cluster.gpu_capacity), result, yardstick)
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
