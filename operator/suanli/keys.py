"""Suanli's own label and annotation keys (`suanli.dev/...`), each defined once.

Below every other module: the fleet writes the node keys that scoring reads, the operator writes
the pod keys that the extender reads. Keys of other software (GPU Feature Discovery, Node
Feature Discovery, HAMi, KWOK) stay with the code that reads or writes them.
"""

from __future__ import annotations

from typing import Final

# --- on nodes -----------------------------------------------------------------------------------
# Where a node sits and how it is wired (defaults of `scoring.facts.TopologyKeys`).
TIER_LABEL: Final = "suanli.dev/tier"
SITE_LABEL: Final = "suanli.dev/site"
INTERCONNECT_LABEL: Final = "suanli.dev/interconnect"
RACK_LABEL: Final = "suanli.dev/rack"
BLOCK_LABEL: Final = "suanli.dev/block"
# An administrator's own judgement of a node's trust, 0..10 (`scoring.trust`).
TRUST_LEVEL_LABEL: Final = "suanli.dev/trust-level"
# The node's price per hour (absent: the catalog's price of its devices).
PRICE_ANNOTATION: Final = "suanli.dev/price-per-hour"
# Devices whose plugin writes no product label (`scoring.labellers`).
ACCELERATOR_VENDOR_LABEL: Final = "suanli.dev/accelerator.vendor"
ACCELERATOR_PRODUCT_LABEL: Final = "suanli.dev/accelerator.product"
ACCELERATOR_COUNT_LABEL: Final = "suanli.dev/accelerator.count"
ACCELERATOR_MEMORY_LABEL: Final = "suanli.dev/accelerator.memory"  # MiB per device
# The fleet pool a fake node was made from.
FLEET_POOL_LABEL: Final = "suanli.dev/pool"

# --- on pods ------------------------------------------------------------------------------------
# The pod's demand beyond its requests: one JSON object (`scoring.demand.DemandSpec`).
DEMAND_ANNOTATION: Final = "suanli.dev/demand"
# The ComputeJob, task and replica a pod belongs to, and which attempt of that replica it is.
JOB_LABEL: Final = "suanli.dev/job"
TASK_LABEL: Final = "suanli.dev/task"
INDEX_LABEL: Final = "suanli.dev/index"
ATTEMPT_ANNOTATION: Final = "suanli.dev/attempt"
# A share of one device, in milli-devices, and the devices the extender chose for the pod
# (e.g. "0,1" or "3:250").
GPU_MILLI_ANNOTATION: Final = "suanli.dev/gpu-milli"
GPU_DEVICES_ANNOTATION: Final = "suanli.dev/gpu-devices"
# Written by the operator when it admits a gang: the node its plan chose for the pod.
PLANNED_NODE_ANNOTATION: Final = "suanli.dev/planned-node"
# Written by the extender: where the pod went and why, and why it fits nowhere (read by the
# operator for the job's status).
PLACEMENT_ANNOTATION: Final = "suanli.dev/placement"
UNSCHEDULABLE_ANNOTATION: Final = "suanli.dev/unschedulable"

# What places a pod and what it holds: only Suanli writes these (the operator on the pods of an
# admitted ComputeJob, the extender on the Binding). A pod that carries them otherwise would skip
# its job's queue and quota, so the admission policy refuses them from anyone else and the
# extender trusts them only on a pod a ComputeJob owns. Explanations (placement,
# unschedulable) and the KWOK run annotations are not in the list: they place nothing.
SCHEDULING_ANNOTATIONS: Final = (
    DEMAND_ANNOTATION,
    PLANNED_NODE_ANNOTATION,
    GPU_MILLI_ANNOTATION,
    GPU_DEVICES_ANNOTATION,
)
