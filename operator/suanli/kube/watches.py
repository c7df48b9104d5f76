"""The list-watches that feed a `ClusterFeed`: every node, and every pod bound to one."""

from __future__ import annotations

from typing import Any

from suanli.kube.reflector import Reflector
from suanli.state import ClusterFeed

# Only pods that hold something on a node matter to placement; the apiserver filters the rest.
BOUND_AND_LIVE = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"


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
