"""What people see of the fleet, its queues and its jobs: pure aggregations (state in, rows out).

Shared by `kubectl suanli top` / `explain` and the web view (`suanli ui`); the Kubernetes I/O
that fills the state lives with those commands, never here.
"""

from suanli.view.explain import JobExplanation, PodPlacement, WaitingGroup, explain_job
from suanli.view.fleet import FleetRow, NodeCell, NodeKind, fleet_rows, node_cells, node_kind
from suanli.view.queues import QueueRow, queue_rows

__all__ = [
    "FleetRow",
    "JobExplanation",
    "NodeCell",
    "NodeKind",
    "PodPlacement",
    "QueueRow",
    "WaitingGroup",
    "explain_job",
    "fleet_rows",
    "node_cells",
    "node_kind",
    "queue_rows",
]
