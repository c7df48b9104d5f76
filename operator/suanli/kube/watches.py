"""The list-watches that feed a `ClusterFeed`: every node, and every pod bound to one."""

from __future__ import annotations

from functools import partial
from typing import Any

from suanli.keys import JOB_LABEL
from suanli.kube.reflector import Apply, Reflector, Replace
from suanli.state import ClusterFeed

# Only pods that hold something on a node matter to placement; the apiserver filters the rest.
BOUND_AND_LIVE = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
# Pending pods of ComputeJobs: those the operator planned on a node reserve room there.
PENDING = "spec.nodeName=,status.phase=Pending"


def cluster_reflectors(core: Any, cache: ClusterFeed) -> list[Reflector]:
    nodes = Reflector("nodes", core.list_node, cache.replace_nodes, cache.apply_node)
    pods = Reflector(
        "pods",
        core.list_pod_for_all_namespaces,
        cache.replace_pods,
        cache.apply_pod,
        list_kwargs={"field_selector": BOUND_AND_LIVE},
    )
    return [nodes, pods]


def pending_job_pods_reflector(core: Any, replace: Replace, apply: Apply) -> Reflector:
    """Every pending pod that a ComputeJob's operator created (they carry the job label)."""
    return Reflector(
        "pending-job-pods",
        core.list_pod_for_all_namespaces,
        replace,
        apply,
        list_kwargs={"field_selector": PENDING, "label_selector": JOB_LABEL},
    )


def computejob_reflector(custom: Any, replace: Replace, apply: Apply) -> Reflector:
    """Every ComputeJob (the extender keeps only their names and uids); before the CRD is
    installed there are none."""
    return Reflector(
        "computejobs",
        partial(custom.list_cluster_custom_object, "suanli.dev", "v1alpha1", "computejobs"),
        replace,
        apply,
        missing_ok=True,
    )
