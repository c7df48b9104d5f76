"""What filters and scorers share about one decision, computed once per pod."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from suanli.scoring.catalog import Catalog
from suanli.scoring.config import ScoringConfig
from suanli.scoring.datapolicy import BASELINE_POLICY, DataPolicy
from suanli.scoring.demand import PodDemand
from suanli.scoring.device_plan import Plan, PlanKey, plan
from suanli.scoring.facts import NodeFacts
from suanli.scoring.fragmentation import FragmentationMemo, NodeState
from suanli.scoring.latency import LatencyMap
from suanli.scoring.resources import CPU, MEMORY
from suanli.scoring.shapes import NO_WORKLOAD, Workload
from suanli.scoring.snapshot import NodeSnapshot

# A peer is a node holding another pod of the same job: by name (looked up among the
# candidates) or by its facts (needed when the peer's node is not a candidate).
Peer = str | NodeFacts


@dataclass(frozen=True)
class Context:
    demand: PodDemand
    # The demand's acceptable types as canonical names, in preference order.
    accepted: tuple[str, ...]
    latency: LatencyMap
    config: ScoringConfig
    # Domain value (rack name, ...) -> peers in it, for the demand's sameDomain.
    peer_domains: Mapping[str, int]
    # The typical request shapes to keep room for; empty: packing is plain most-allocated.
    workload: Workload = NO_WORKLOAD
    # Which data classes may run where (for demands that declare their data).
    data_policy: DataPolicy = BASELINE_POLICY
    # Device plans per node name, worked out once per decision (filter, packing and the result
    # all need them). Local to this context, which lives for one decision.
    _plans: dict[str, Plan | None] = field(default_factory=dict, repr=False, compare=False)
    _fragmentation: FragmentationMemo = field(default_factory=dict, repr=False, compare=False)
    _plan_memo: dict[PlanKey, Plan | None] | None = field(default=None, repr=False, compare=False)

    @property
    def peer_total(self) -> int:
        return sum(self.peer_domains.values())

    def plan(self, node: NodeSnapshot, state: NodeState | None = None) -> Plan | None:
        """Where the pod's devices would go on `node` (None: they do not fit right now);
        `state`: the node's `node_state`, when the caller has it."""
        if node.name not in self._plans:
            requests = self.demand.requests
            self._plans[node.name] = plan(
                node,
                self.demand.gpu,
                requests.amount(CPU),
                requests.amount(MEMORY),
                self.workload,
                memo=self._fragmentation,
                plans=self._plan_memo,
                state=state,
            )
        return self._plans[node.name]


def accepted_types(demand: PodDemand, catalog: Catalog) -> tuple[str, ...]:
    """Resolve what the user wrote (`h100`, a label value) to canonical names; unknown names
    stay as written so the filter reason shows them."""
    names: list[str] = []
    for written in demand.spec.accelerator_types:
        resolved = catalog.resolve(written)
        name = resolved.name if resolved is not None else written
        if name not in names:
            names.append(name)
    return tuple(names)


def _peer_domains(
    demand: PodDemand, nodes: Sequence[NodeSnapshot], peers: Iterable[Peer]
) -> Mapping[str, int]:
    kind = demand.spec.same_domain
    if kind is None:
        return MappingProxyType({})
    by_name = {n.name: n.facts for n in nodes}
    facts: dict[str, NodeFacts] = {}
    for peer in peers:
        found = by_name.get(peer) if isinstance(peer, str) else peer
        if found is not None:
            facts[found.name] = found
    counts = Counter(
        value for value in (f.domain(kind) for f in facts.values()) if value is not None
    )
    return MappingProxyType(dict(sorted(counts.items())))


def build_context(
    demand: PodDemand,
    nodes: Sequence[NodeSnapshot],
    catalog: Catalog,
    latency: LatencyMap,
    *,
    peers: Iterable[Peer],
    config: ScoringConfig,
    workload: Workload = NO_WORKLOAD,
    fragmentation_memo: FragmentationMemo | None = None,
    plan_memo: dict[PlanKey, Plan | None] | None = None,
    data_policy: DataPolicy = BASELINE_POLICY,
) -> Context:
    """`fragmentation_memo`: expected fragmentation per node state for this workload's shapes,
    kept by a caller that makes many decisions (it must not outlive the shapes); `plan_memo`:
    the same for device plans per node state and request."""
    return Context(
        demand=demand,
        accepted=accepted_types(demand, catalog),
        latency=latency,
        config=config,
        peer_domains=_peer_domains(demand, nodes, peers),
        workload=workload,
        data_policy=data_policy,
        _fragmentation={} if fragmentation_memo is None else fragmentation_memo,
        _plan_memo=plan_memo,
    )
