"""HPC fit: interconnect, RDMA, CPU features and closeness to the job's other pods."""

from __future__ import annotations

from suanli.scoring.context import Context
from suanli.scoring.facts import NodeFacts
from suanli.scoring.scorers.signal import Signal, mean
from suanli.scoring.snapshot import NodeSnapshot


def _is_hpc_node(facts: NodeFacts) -> bool:
    return facts.rdma or facts.interconnect not in (None, "ethernet")


def _affinity(context: Context, facts: NodeFacts) -> float:
    """Share of the job's peers already in this node's domain; for the first pod, any node
    that has the domain label at all (later pods must share it)."""
    kind = context.demand.spec.same_domain
    if kind is None:
        return 1.0
    value = facts.domain(kind)
    if value is None:
        return 0.0
    if not context.peer_domains:
        return 1.0
    return context.peer_domains.get(value, 0) / context.peer_total


def score(context: Context, node: NodeSnapshot) -> Signal:
    spec, facts = context.demand.spec, node.facts
    asks = spec.interconnect or spec.rdma or spec.cpu_features or spec.same_domain
    if not asks:
        if _is_hpc_node(facts):
            # Plain work on an RDMA node takes what MPI jobs cannot get elsewhere.
            return Signal(context.config.plain_work_on_hpc_node, "HPC node kept for HPC work")
        return Signal(1.0, "no HPC asked")
    parts: list[float] = []
    if spec.interconnect:
        parts.append(1.0 if facts.interconnect == spec.interconnect else 0.0)
    if spec.rdma:
        parts.append(1.0 if facts.rdma else 0.0)
    if spec.cpu_features:
        have = sum(1 for f in spec.cpu_features if f in facts.cpu_features)
        parts.append(have / len(spec.cpu_features))
    if spec.same_domain:
        parts.append(_affinity(context, facts))
    value = mean(parts)
    where = f", {spec.same_domain} {facts.domain(spec.same_domain)}" if spec.same_domain else ""
    return Signal(value, f"HPC match {value:.2f}{where}")
