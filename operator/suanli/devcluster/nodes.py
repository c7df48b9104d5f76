"""Register a fleet's fake nodes with the apiserver and wait for KWOK to make them Ready."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from suanli.devcluster.processes import ClusterError
from suanli.fleet import Fleet, node_manifests
from suanli.keys import FLEET_POOL_LABEL

_CREATE_WORKERS = 16


def core_api(kubeconfig: Path, pool_size: int = _CREATE_WORKERS) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = pool_size
    return client.CoreV1Api(client.ApiClient(configuration))


def _create_or_update(api: client.CoreV1Api, manifest: dict[str, Any]) -> None:
    name = manifest["metadata"]["name"]
    try:
        # The client accepts plain dicts and validates them against its models before sending.
        # Skip decoding the echoed Node into models: it costs more than the request itself.
        response: Any = api.create_node(cast(client.V1Node, manifest), _preload_content=False)
        response.read()
    except ValueError as error:
        raise ClusterError(f"node {name} is not a valid Node object: {error}") from None
    except ApiException as error:
        if error.status != 409:
            raise ClusterError(
                f"creating node {name} failed: {error.status} {error.reason}"
            ) from None
        # Re-applying a fleet updates labels, taints and capacity in place.
        api.patch_node(name, {"metadata": manifest["metadata"], "spec": manifest["spec"]})
        api.patch_node_status(name, {"status": manifest["status"]})


def apply_nodes(api: client.CoreV1Api, manifests: Iterable[dict[str, Any]]) -> int:
    count = 0
    with ThreadPoolExecutor(max_workers=_CREATE_WORKERS) as pool:
        for _ in pool.map(lambda m: _create_or_update(api, m), manifests):
            count += 1
    return count


def apply_fleet(kubeconfig: Path, fleet: Fleet) -> int:
    """Create (or update) every node of the fleet; returns how many."""
    return apply_nodes(core_api(kubeconfig), node_manifests(fleet))


def _is_ready(node: dict[str, Any]) -> bool:
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def is_settled(node: dict[str, Any]) -> bool:
    """Ready, and without the taints kube-controller-manager's node lifecycle controller puts on
    a node that is not (yet) Ready: it lifts them one node at a time after the node turns Ready."""
    taints = (node.get("spec") or {}).get("taints") or []
    return _is_ready(node) and not any(
        str(t.get("key", "")).startswith(_LIFECYCLE_TAINTS) for t in taints
    )


# node.kubernetes.io/not-ready, node.kubernetes.io/unreachable and the like.
_LIFECYCLE_TAINTS = "node.kubernetes.io/"


def count_ready(api: client.CoreV1Api) -> int:
    """Fleet nodes that are Ready and no longer tainted by the node lifecycle controller."""
    # Raw JSON: decoding thousands of nodes into client models would dominate the wait.
    response: Any = api.list_node(
        label_selector=FLEET_POOL_LABEL, resource_version="0", _preload_content=False
    )
    items = json.loads(response.data)["items"]
    return sum(1 for node in items if is_settled(node))


def wait_nodes_ready(kubeconfig: Path, expected: int, timeout: float = 300.0) -> float:
    """Wait until `expected` fleet nodes report Ready and kube-controller-manager has lifted
    its not-ready taints from them; returns the seconds it took. Until then the controller is
    still reading and patching nodes (about two writes per node: thousands at fleet scale), and
    anything timed would share the apiserver with it (and kube-scheduler would skip the nodes
    still tainted)."""
    api = core_api(kubeconfig)
    began = time.monotonic()
    ready = 0
    while time.monotonic() - began < timeout:
        ready = count_ready(api)
        if ready >= expected:
            return time.monotonic() - began
        time.sleep(1.0)
    raise ClusterError(
        f"only {ready} of {expected} nodes became Ready and untainted within {timeout:.0f} s"
    )
