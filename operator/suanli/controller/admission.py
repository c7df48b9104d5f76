"""Gang admission: does a full placement exist right now? Pure, using the extender's scoring.

Pods of a gang are created only once `minMember` of them can all be placed at the same time, so a
waiting gang never holds accelerators (the partial-gang deadlock). The plan places pods one by
one on a copy of the snapshot, counting each planned pod before the next, with the job's earlier
choices as same-domain peers, exactly as the extender will judge them one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suanli.scoring import (
    Catalog,
    LatencyMap,
    NodeFacts,
    NodeSnapshot,
    NodeUsage,
    PodDemand,
    Resources,
    Snapshot,
    evaluate,
)


@dataclass(frozen=True)
class Admission:
    plan: dict[str, str]  # pod name -> node, for the pods that fit
    admitted: bool
    reason: str = ""  # why not, aggregated over nodes, when not admitted


def _with_usage(node: NodeSnapshot, extra: Resources, count: int) -> NodeSnapshot:
    usage = NodeUsage(node.usage.requested + extra, node.usage.pod_count + count)
    return NodeSnapshot(node.facts, usage)


def plan_gang(
    snapshot: Snapshot,
    demands: Sequence[PodDemand],
    min_member: int,
    *,
    catalog: Catalog,
    latency: LatencyMap,
    reserved: Mapping[str, Resources] | None = None,
) -> Admission:
    """Place `demands` in order; admitted when at least `min_member` of them fit.

    `reserved` is capacity promised to gangs admitted earlier whose pods are not bound yet.
    """
    extra: dict[str, Resources] = dict(reserved or {})
    counts: dict[str, int] = {}
    plan: dict[str, str] = {}
    peers: list[NodeFacts] = list(snapshot.peers_of(demands[0])) if demands else []
    last_reason = ""
    for demand in demands:
        nodes = [
            _with_usage(n, extra[n.name], counts.get(n.name, 0)) if n.name in extra else n
            for n in snapshot.nodes
        ]
        decision = evaluate(demand, nodes, catalog, latency, peers=peers)
        if not decision.ranking:
            last_reason = decision.unschedulable_reason
            continue
        node = decision.ranking[0]
        plan[demand.name] = node
        extra[node] = extra.get(node, Resources()) + demand.requests
        counts[node] = counts.get(node, 0) + 1
        chosen = snapshot.node(node)
        if chosen is not None:
            peers.append(chosen.facts)
    if len(plan) >= min_member:
        return Admission(plan, True)
    reason = f"gang needs {min_member} pods placed together, only {len(plan)} fit now" + (
        f": {last_reason}" if last_reason else ""
    )
    return Admission(plan, False, reason)
