"""Gang admission: does a full placement exist right now? Pure, on the shared cluster state.

Pods of a gang are created only once `minMember` of them can all be placed at the same time, so a
waiting gang never holds accelerators (the partial-gang deadlock). The plan is a what-if on the
cluster state: each pod is decided as the extender will decide it (same decider, same device
shares, same workload), then placed tentatively so the next one sees it (as capacity taken and
as a same-domain peer); everything is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.scoring import (
    BASELINE_POLICY,
    Catalog,
    DataPolicy,
    LatencyMap,
    NodeResult,
    PodDemand,
)
from suanli.scoring.snapshot import PlacedPod
from suanli.state.feed import ClusterFeed


@dataclass(frozen=True)
class Admission:
    plan: dict[str, str]  # pod name -> node, for the pods that fit
    admitted: bool
    reason: str = ""  # why not, aggregated over nodes, when not admitted
    # What the planned pods would hold (node, requests, devices), to place them in a what-if.
    placed: tuple[PlacedPod, ...] = ()
    # Why not, for programs: Unschedulable (no placement now) or BehindReservation (backfill).
    code: str = "Unschedulable"
    # The chosen node's full result (score, breakdown) per planned pod, in plan order.
    results: tuple[NodeResult, ...] = ()


def plan_gang(
    feed: ClusterFeed,
    demands: Sequence[PodDemand],
    min_member: int,
    *,
    catalog: Catalog,
    latency: LatencyMap,
    data_policy: DataPolicy = BASELINE_POLICY,
    reserved: Sequence[PlacedPod] = (),
) -> Admission:
    """Place `demands` in order; admitted when at least `min_member` of them fit.

    `reserved` are pods of gangs admitted earlier that are planned on a node but not bound yet:
    they hold their capacity in the trial.
    """
    plan: dict[str, str] = {}
    held: list[PlacedPod] = []
    results: list[NodeResult] = []
    last_reason = ""
    state = feed.state
    with state.what_if():
        for pod in reserved:
            if pod.key not in state.pods:
                state.set_pod(pod.key, pod)
        for demand in demands:
            choice = feed.decider.decide(
                demand,
                catalog=catalog,
                latency=latency,
                data_policy=data_policy,
                workload=feed.workload(),
                keep=1,
                complete=False,
            )
            if not choice.ranked:
                last_reason = choice.unschedulable_reason
                continue
            best = choice.ranked[0]
            plan[demand.name] = best.node
            placed = PlacedPod(
                demand.key,
                best.node,
                demand.job,
                demand.requests,
                demand.gpu_milli,
                best.allocation or None,
            )
            state.set_pod(demand.key, placed)
            held.append(placed)
            results.append(best)
    if len(plan) >= min_member:
        return Admission(plan, True, placed=tuple(held), results=tuple(results))
    reason = f"gang needs {min_member} pods placed together, only {len(plan)} fit now" + (
        f": {last_reason}" if last_reason else ""
    )
    return Admission(plan, False, reason, tuple(held), results=tuple(results))


def rooms_gone(
    feed: ClusterFeed,
    waiting: Sequence[tuple[PodDemand, str]],
    *,
    catalog: Catalog,
    latency: LatencyMap,
    data_policy: DataPolicy = BASELINE_POLICY,
    reserved: Sequence[PlacedPod] = (),
) -> list[str]:
    """The names of a gang's unbound members (demand, planned node) whose planned node no
    longer has room for them: each is decided on its node alone, with the other members and
    the other gangs' `reserved` pods on their planned nodes, in a what-if rolled back after.
    A member whose node still fits is not named: if kube-scheduler refuses it all the same, the
    disagreement is not one a new plan would settle."""
    gone: list[str] = []
    state = feed.state
    with state.what_if():
        for pod in reserved:
            if pod.key not in state.pods:
                state.set_pod(pod.key, pod)
        for index, (demand, node) in enumerate(waiting):
            with state.what_if():
                for other, other_node in [*waiting[:index], *waiting[index + 1 :]]:
                    placed = PlacedPod(
                        other.key, other_node, other.job, other.requests, other.gpu_milli
                    )
                    state.set_pod(other.key, placed)
                choice = feed.decider.decide(
                    demand,
                    [node],
                    catalog=catalog,
                    latency=latency,
                    data_policy=data_policy,
                    workload=feed.workload(),
                    keep=1,
                )
                if not choice.ranked:
                    gone.append(demand.name)
    return gone
