"""Small helpers shared by the integration tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


def eventually(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


def new_namespace(core: client.CoreV1Api, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})  # type: ignore[arg-type]
    return name


def delete_namespace_and_wait(core: client.CoreV1Api, namespace: str, timeout: float = 60) -> None:
    """Delete every pod first and wait, so the capacity is free for the next test."""
    core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
    eventually(lambda: not raw_pods(core, namespace), timeout, f"pods of {namespace} gone")
    core.delete_namespace(namespace)


def raw_pods(core: client.CoreV1Api, namespace: str) -> list[dict[str, Any]]:
    response: Any = core.list_namespaced_pod(namespace, _preload_content=False)
    return list(json.loads(response.data)["items"])


def raw_pod(core: client.CoreV1Api, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        response: Any = core.read_namespaced_pod(name, namespace, _preload_content=False)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return dict(json.loads(response.data))


def owning_job(core: client.CoreV1Api, namespace: str, name: str = "owner") -> dict[str, Any]:
    """A real, suspended ComputeJob to own hand-made pods (the extender believes a pod's
    scheduling annotations only when a ComputeJob it knows owns it), as an ownerReference.

    Suspended, the operator creates no pods for it; the pods that name it as owner carry no
    `suanli.dev/job` label of its name, so the operator never counts or deletes them either.
    """
    job = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "runPolicy": {"suspend": True},
            "tasks": [
                {
                    "name": "main",
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}},
                }
            ],
        },
    }
    created: Any = client.CustomObjectsApi(core.api_client).create_namespaced_custom_object(
        "suanli.dev", "v1alpha1", namespace, "computejobs", job
    )
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "name": name,
        "uid": created["metadata"]["uid"],
    }


def suanli_pod(
    name: str,
    *,
    demand: dict[str, Any] | None = None,
    gpus: int = 0,
    gpu_resource: str = "nvidia.com/gpu",
    cpu: str = "1",
    memory: str = "1Gi",
    job: str | None = None,
    run: str | None = None,
    tolerations: list[dict[str, str]] | None = None,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A pod for the suanli-scheduler, as the operator would create it; a pod with a demand
    needs the `owner` (from `owning_job`) for the extender to honour it."""
    annotations: dict[str, str] = {}
    if demand is not None:
        annotations["suanli.dev/demand"] = json.dumps(demand)
    if run is not None:
        annotations["suanli.dev/run-duration"] = run
    resources: dict[str, Any] = {"requests": {"cpu": cpu, "memory": memory}}
    if gpus:
        resources["limits"] = {gpu_resource: str(gpus)}
    return {
        "metadata": {
            "name": name,
            "annotations": annotations,
            "labels": {"suanli.dev/job": job} if job else {},
            "ownerReferences": [owner] if owner else [],
        },
        "spec": {
            "schedulerName": "suanli-scheduler",
            "containers": [{"name": "main", "image": "busybox", "resources": resources}],
            **({"tolerations": tolerations} if tolerations else {}),
        },
    }


def node_of(core: client.CoreV1Api, namespace: str, name: str, timeout: float = 30) -> str:
    pod = eventually(
        lambda: (p := raw_pod(core, namespace, name)) and p["spec"].get("nodeName") and p,
        timeout,
        f"pod {name} bound",
    )
    return str(pod["spec"]["nodeName"])


def node_labels(core: client.CoreV1Api, node: str) -> dict[str, str]:
    response: Any = core.read_node(node, _preload_content=False)
    return dict(json.loads(response.data)["metadata"].get("labels") or {})


def node_taints(core: client.CoreV1Api, node: str) -> list[dict[str, str]]:
    response: Any = core.read_node(node, _preload_content=False)
    return list(json.loads(response.data)["spec"].get("taints") or [])


def unschedulable_reason(core: client.CoreV1Api, namespace: str, name: str) -> str:
    """The reason the extender wrote on a pod it could not place (the pod stays unbound)."""
    pod = eventually(
        lambda: (
            (p := raw_pod(core, namespace, name))
            and p["metadata"].get("annotations", {}).get("suanli.dev/unschedulable")
            and p
        ),
        30,
        f"{name} marked unschedulable",
    )
    assert not pod["spec"].get("nodeName")
    return str(pod["metadata"]["annotations"]["suanli.dev/unschedulable"])
