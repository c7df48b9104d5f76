"""The pure scoring core of the scheduler extender: facts in, verdicts and scores out.

No I/O, logging, clock or mutable globals: the HTTP server and the operator are thin edges that
build a `Snapshot` from their cache, parse the pod with `parse_pod` and call `evaluate`.

Typical use::

    catalog = parse_catalog(catalog_yaml_text)
    latency = parse_latency(latency_yaml_text)
    snapshot = Snapshot.from_objects(node_dicts, pod_dicts, catalog)
    demand = parse_pod(pod_dict)
    decision = evaluate(demand, snapshot.select(candidate_names), catalog, latency,
                        peers=snapshot.peers_of(demand))
    decision.scores, decision.ranking, best_nodes(decision, 1), decision.unschedulable_reason

A pod may ask for a share of one device (`suanli.dev/gpu-milli`); pass `workload=` (the typical
request shapes, e.g. from a `ShapeHistogram`) to make packing fragmentation-aware. The chosen
devices are in `decision.result(node).allocation`.
"""

from suanli.scoring.catalog import AcceleratorType, Catalog, Vendor, parse_catalog
from suanli.scoring.combine import (
    MAX_SCORE,
    Breakdown,
    Decision,
    NodeResult,
    best_nodes,
    evaluate,
    round_score,
)
from suanli.scoring.config import DEFAULT_CONFIG, BillingMultipliers, ScoringConfig, TierDefaults
from suanli.scoring.context import Peer, accepted_types
from suanli.scoring.datapolicy import (
    BASELINE_POLICY,
    RECORDED,
    Classification,
    DataPolicy,
    DataRule,
    parse_data_policy,
)
from suanli.scoring.demand import (
    Billing,
    DataDemand,
    DemandSpec,
    PodDemand,
    Weights,
    parse_demand_annotation,
    parse_pod,
)
from suanli.scoring.device_plan import Plan
from suanli.scoring.devices import (
    MILLI_PER_DEVICE,
    Allocation,
    AllocationError,
    GpuRequest,
    format_allocation,
    parse_allocation,
)
from suanli.scoring.errors import (
    CatalogError,
    DataPolicyError,
    DemandError,
    LatencyError,
    QuantityError,
    ScoringInputError,
)
from suanli.scoring.facts import (
    AcceleratorFacts,
    Domain,
    NodeFacts,
    NodeUsage,
    Tier,
    TopologyKeys,
    node_facts,
)
from suanli.scoring.fragmentation import NodeState, fragmentation, node_state
from suanli.scoring.latency import LatencyMap, parse_latency
from suanli.scoring.quantity import parse_quantity, to_milli, to_units
from suanli.scoring.resources import Resources, pod_requests
from suanli.scoring.shapes import (
    NO_WORKLOAD,
    Shape,
    ShapeHistogram,
    Workload,
    shape_of,
    with_pressure,
)
from suanli.scoring.snapshot import NodeSnapshot, Snapshot
from suanli.scoring.trust import TEE_LABELS, Tee
from suanli.scoring.verdict import Outcome, Verdict, aggregate_reasons

__all__ = [
    "BASELINE_POLICY",
    "DEFAULT_CONFIG",
    "MAX_SCORE",
    "MILLI_PER_DEVICE",
    "NO_WORKLOAD",
    "RECORDED",
    "TEE_LABELS",
    "AcceleratorFacts",
    "AcceleratorType",
    "Allocation",
    "AllocationError",
    "Billing",
    "BillingMultipliers",
    "Breakdown",
    "Catalog",
    "CatalogError",
    "Classification",
    "DataDemand",
    "DataPolicy",
    "DataPolicyError",
    "DataRule",
    "Decision",
    "DemandError",
    "DemandSpec",
    "Domain",
    "GpuRequest",
    "LatencyError",
    "LatencyMap",
    "NodeFacts",
    "NodeResult",
    "NodeSnapshot",
    "NodeState",
    "NodeUsage",
    "Outcome",
    "Peer",
    "Plan",
    "PodDemand",
    "QuantityError",
    "Resources",
    "ScoringConfig",
    "ScoringInputError",
    "Shape",
    "ShapeHistogram",
    "Snapshot",
    "Tee",
    "Tier",
    "TierDefaults",
    "TopologyKeys",
    "Vendor",
    "Verdict",
    "Weights",
    "Workload",
    "accepted_types",
    "aggregate_reasons",
    "best_nodes",
    "evaluate",
    "format_allocation",
    "fragmentation",
    "node_facts",
    "node_state",
    "parse_allocation",
    "parse_catalog",
    "parse_data_policy",
    "parse_demand_annotation",
    "parse_latency",
    "parse_pod",
    "parse_quantity",
    "pod_requests",
    "round_score",
    "shape_of",
    "to_milli",
    "to_units",
    "with_pressure",
]
