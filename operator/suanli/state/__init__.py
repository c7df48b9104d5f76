"""The one model of the cluster's state, shared by the extender, the operator and the simulator.

- `ClusterState`: nodes grouped by class and usage state, pods, workload; changed by deltas;
  `what_if()` for trials that roll back.
- `Decider`: the decision for one pod over the state, equal to the reference `evaluate` over
  every candidate, at a cost that follows the distinct node states.
- `ClusterFeed`: watch events (Node and Pod objects) into state deltas, assumed pods.
"""

from suanli.state.choice import Choice
from suanli.state.cluster import ClusterState
from suanli.state.decide import Decider
from suanli.state.entry import NodeEntry
from suanli.state.feed import (
    ASSUME_TTL_SECONDS,
    HOLD_TTL_SECONDS,
    ClusterFeed,
    placed_pod,
    pod_key,
    pod_shape,
)
from suanli.state.objects import planned_node_of

__all__ = [
    "ASSUME_TTL_SECONDS",
    "HOLD_TTL_SECONDS",
    "Choice",
    "ClusterFeed",
    "ClusterState",
    "Decider",
    "NodeEntry",
    "placed_pod",
    "planned_node_of",
    "pod_key",
    "pod_shape",
]
