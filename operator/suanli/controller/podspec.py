"""The pods of a ComputeJob: deterministic names, owner references, and what the extender reads.

Pure: a job in, pod manifests out. Names are `<job>-<task>-<index>`, so creating a pod twice
(after a restart, a retry) is refused by the apiserver instead of duplicating work.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from typing import Any

from suanli.api import ComputeJob, Task
from suanli.api.workloads import job_weights
from suanli.controller.edge import DEFAULTS, with_edge_tolerations
from suanli.controller.mpi import layout, with_mpi
from suanli.controller.owners import owner_references
from suanli.controller.shares import SharePlan, SharePool, plan_share
from suanli.controller.slots import PodSlot
from suanli.keys import (
    ATTEMPT_ANNOTATION,
    DEMAND_ANNOTATION,
    GPU_MILLI_ANNOTATION,
    INDEX_LABEL,
    JOB_LABEL,
    PLANNED_NODE_ANNOTATION,
    TASK_LABEL,
)
from suanli.scoring import Catalog, DemandSpec
from suanli.scoring.resources import RDMA_RESOURCE
from suanli.scoring.sharing import HAMI_CORES, HAMI_GPU, HAMI_MEMORY, TIME_SLICED, ShareStack

SCHEDULER_NAME = "suanli-scheduler"
DEFAULT_ACCELERATOR_RESOURCE = "nvidia.com/gpu"


def accelerator_resources(
    task: Task, catalog: Catalog, admitted: Sequence[str] | None = None
) -> list[str]:
    """The device resources of the task's accepted types, in their order, each once;
    `admitted`: the types its queue admitted it for, which take their place."""
    types = list(admitted) if admitted else (task.accelerators.types if task.accelerators else [])
    found = [known.resource for name in types if (known := catalog.get(name)) is not None]
    return list(dict.fromkeys(found))


def accelerator_resource(
    task: Task, catalog: Catalog, admitted: Sequence[str] | None = None
) -> str:
    """The device plugin's resource the task's pods request: that of its accepted (or
    admitted) types (the validating webhook refuses types that need different ones),
    nvidia.com/gpu for any type."""
    found = accelerator_resources(task, catalog, admitted)
    return found[0] if found else DEFAULT_ACCELERATOR_RESOURCE


def demand_annotation(job: ComputeJob, task: Task, admitted: Sequence[str] | None = None) -> str:
    """The `suanli.dev/demand` JSON the extender scores the pod by; `admitted`: the accelerator
    types the job's queue admitted it for, which narrow the task's own."""
    spec = job.spec
    fields: dict[str, Any] = {}
    if task.accelerators:
        fields["acceleratorTypes"] = list(admitted or task.accelerators.types)
        # A share sized by memory needs a device with that memory, like minMemoryGiB.
        floor = max(task.accelerators.min_memory_gib or 0, task.accelerators.memory_gib or 0)
        if floor:
            fields["minAcceleratorMemoryGiB"] = floor
    if spec.hpc:
        fields.update(
            interconnect=spec.hpc.interconnect.value if spec.hpc.interconnect else None,
            rdma=spec.hpc.rdma,
            cpuFeatures=list(spec.hpc.cpu_features),
            sameDomain=spec.hpc.same_domain.value if spec.hpc.same_domain else None,
        )
    if spec.locality:
        fields.update(
            tiers=[t.value for t in spec.locality.tiers],
            zones=list(spec.locality.zones),
            sites=list(spec.locality.sites),
            maxLatencyMs=spec.locality.max_latency_ms,
        )
    if spec.cost:
        fields.update(maxPricePerHour=spec.cost.max_price_per_hour, billing=spec.cost.billing.value)
    if spec.data:
        fields["data"] = {
            "classification": spec.data.classification.value,
            "residency": list(spec.data.residency),
        }
    # Always written: the extender's own defaults are for pods that name no workload.
    fields["weights"] = job_weights(spec)
    # Validate through the extender's own model so the two never disagree on the format.
    demand = DemandSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    return json.dumps(
        demand.model_dump(mode="json", by_alias=True, exclude_defaults=True), sort_keys=True
    )


def _with_devices(container: dict[str, Any], resource: str, count: int) -> dict[str, Any]:
    resources = container.setdefault("resources", {})
    resources.setdefault("limits", {})[resource] = str(count)
    if "requests" in resources and resource in resources["requests"]:
        resources["requests"][resource] = str(count)
    return container


def _with_rdma(container: dict[str, Any]) -> None:
    """One device of the shared RDMA resource, which nodes with RDMA advertise (the RDMA shared
    device plugin): without it the container gets no /dev/infiniband. A template that asks for
    it already keeps its own amount."""
    resources = container.setdefault("resources", {})
    asked = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    if RDMA_RESOURCE not in asked:
        resources.setdefault("limits", {})[RDMA_RESOURCE] = "1"


def _with_share(container: dict[str, Any], annotations: dict[str, str], plan: SharePlan) -> None:
    """The share in the sharing stack's terms (docs/shares.md): Suanli's milli annotation
    always, and the resources kube-scheduler fits and the stack's device plugin reads."""
    annotations[GPU_MILLI_ANNOTATION] = str(plan.milli)
    limits = container.setdefault("resources", {}).setdefault("limits", {})
    if plan.stack is ShareStack.HAMI:
        limits[HAMI_GPU] = "1"
        limits[HAMI_MEMORY] = str(plan.memory_mib)
        limits[HAMI_CORES] = str(plan.cores)
    elif plan.stack is ShareStack.TIME_SLICING:
        limits[TIME_SLICED] = "1"


def _pinned_to(spec: dict[str, Any], node: str) -> None:
    """A gang member runs only on the node its gang's plan chose: required node affinity on the
    node's name, in every term of the template's own. kube-scheduler then considers that node
    alone (its NodeAffinity pre-filter narrows the candidates to it), so the extender is asked
    about it whatever share of a large fleet kube-scheduler would otherwise sample (a tenth at
    5000 nodes); a node lost meanwhile leaves the pod pending until the gang's timeout takes
    the gang down and plans it again."""
    requirement = {"key": "metadata.name", "operator": "In", "values": [node]}
    node_affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    for term in terms:
        term["matchFields"] = [*(term.get("matchFields") or []), requirement]
    required["nodeSelectorTerms"] = terms


def pod_manifest(
    job: ComputeJob,
    meta: dict[str, Any],
    slot: PodSlot,
    catalog: Catalog,
    *,
    attempt: int = 1,
    planned_node: str | None = None,
    admitted_types: Sequence[str] | None = None,
    edge_tolerations: Sequence[dict[str, str]] = DEFAULTS,
    share_pools: Iterable[SharePool] = (),
) -> dict[str, Any]:
    """`share_pools`: the pools of accelerator nodes, from which a share task's stack is
    chosen (`suanli.controller.shares`)."""
    task = next(t for t in job.spec.tasks if t.name == slot.task)
    template = copy.deepcopy(task.template)
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = {**(metadata.get("labels") or {}), JOB_LABEL: meta["name"], TASK_LABEL: slot.task}
    labels[INDEX_LABEL] = str(slot.index)
    annotations = {**(metadata.get("annotations") or {})}
    admitted = admitted_types if task.accelerators and task.accelerators.count else None
    annotations[DEMAND_ANNOTATION] = demand_annotation(job, task, admitted)
    annotations[ATTEMPT_ANNOTATION] = str(attempt)
    if planned_node:
        annotations[PLANNED_NODE_ANNOTATION] = planned_node
        # Only a gang needs its plan kept: any other pod's planned node is the extender's first
        # choice, and a pod pinned to a node that filled up meanwhile would wait there for ever.
        if job.spec.gang is not None:
            _pinned_to(spec, planned_node)
    count = task.accelerators.count if task.accelerators else 0
    if task.accelerators and task.accelerators.shared and spec.get("containers"):
        accepted = list(admitted or task.accelerators.types)
        plan = plan_share(task.accelerators, accepted, catalog, share_pools)
        _with_share(spec["containers"][0], annotations, plan)
    elif count and spec.get("containers"):
        resource = accelerator_resource(task, catalog, admitted)
        _with_devices(spec["containers"][0], resource, count)
    if job.spec.hpc and job.spec.hpc.rdma and spec.get("containers"):
        _with_rdma(spec["containers"][0])
    where = layout(job, meta)
    if where is not None:
        with_mpi(spec, where, slot)
    with_edge_tolerations(job, spec, edge_tolerations)
    spec["schedulerName"] = SCHEDULER_NAME
    # The job restarts failed pods itself (backoffLimit); the kubelet must not.
    spec["restartPolicy"] = "Never"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": slot.name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": owner_references(meta),
        },
        "spec": spec,
    }
