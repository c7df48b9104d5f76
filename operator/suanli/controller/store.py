"""The operator's writes and authoritative reads: pods, an MPI job's Service, ConfigMap and
Secret, ComputeJob status, the job itself.

Each call runs the blocking client in a thread. A create that finds the pod already there, or a
delete that finds it gone, is success: the operator is level-triggered and repeats itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from suanli.api.models import GROUP, PLURAL, VERSION
from suanli.api.queues import QUEUE_PLURAL
from suanli.keys import JOB_LABEL
from suanli.kube.client import METADATA_ONLY, post_json, send_json

# The objects an MPI job needs beside its pods, by kind: their URL plural, and the name of the
# client's read method for the one that is read back.
_PLURALS = {"Service": "services", "ConfigMap": "configmaps", "Secret": "secrets"}
_SINGULARS = {"services": "service"}


def _read(response: Any) -> Any:
    return json.loads(response.data) if response.data else None


async def _patched(request: Callable[[], Any]) -> dict[str, Any] | None:
    """Run a patch in a thread: the object as stored after it, or None when it is gone (404)."""

    def call() -> dict[str, Any] | None:
        try:
            return dict(_read(request()))
        except ApiException as error:
            if error.status != 404:
                raise
            return None

    return await asyncio.to_thread(call)


class JobStore:
    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    async def list_jobs(self) -> list[dict[str, Any]]:
        """Every ComputeJob in the cluster, as plain dicts."""

        def call() -> list[dict[str, Any]]:
            response = self.custom.list_cluster_custom_object(
                GROUP, VERSION, PLURAL, _preload_content=False
            )
            return list(_read(response)["items"])

        return await asyncio.to_thread(call)

    async def list_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            response = self.core.list_namespaced_pod(
                namespace, label_selector=f"{JOB_LABEL}={job}", _preload_content=False
            )
            return list(_read(response)["items"])

        return await asyncio.to_thread(call)

    async def list_pod_names(self, namespace: str, job: str) -> set[str]:
        """The names of a job's pods, from a metadata-only list (cheap for thousands of pods)."""

        def call() -> set[str]:
            listed = send_json(
                self.core.api_client,
                "GET",
                f"/api/v1/namespaces/{namespace}/pods",
                None,
                accept=METADATA_ONLY,
                query=[("labelSelector", f"{JOB_LABEL}={job}")],
            )
            return {str(item["metadata"]["name"]) for item in listed.get("items") or []}

        return await asyncio.to_thread(call)

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        """True when created, False when a pod of that name already exists.

        Sent as it is: the apiserver, not the client library's models, judges the template.
        """

        def call() -> bool:
            try:
                post_json(self.core.api_client, f"/api/v1/namespaces/{namespace}/pods", manifest)
            except ApiException as error:
                if error.status == 409:
                    return False
                raise
            return True

        return await asyncio.to_thread(call)

    async def create_object(
        self, namespace: str, manifest: dict[str, Any], *, read_existing: bool = True
    ) -> dict[str, Any] | None:
        """Create a core/v1 object (Service, ConfigMap, Secret); when one of that name exists,
        return it as it is stored (so the caller can see whose it is), or, without
        `read_existing`, None: ConfigMaps and Secrets are never read, the operator may only
        create them."""
        plural = _PLURALS[manifest["kind"]]
        name = str(manifest["metadata"]["name"])

        def call() -> dict[str, Any] | None:
            try:
                return dict(
                    post_json(
                        self.core.api_client, f"/api/v1/namespaces/{namespace}/{plural}", manifest
                    )
                )
            except ApiException as error:
                if error.status != 409:
                    raise
            if not read_existing:
                return None
            read = getattr(self.core, f"read_namespaced_{_SINGULARS[plural]}")
            return dict(_read(read(name, namespace, _preload_content=False)))

        return await asyncio.to_thread(call)

    async def delete_pod(self, namespace: str, name: str) -> None:
        def call() -> None:
            try:
                response: Any = self.core.delete_namespaced_pod(
                    name, namespace, grace_period_seconds=0, _preload_content=False
                )
                response.read()
            except ApiException as error:
                if error.status != 404:
                    raise

        await asyncio.to_thread(call)

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The job as stored after the patch (None when it is gone)."""
        return await _patched(
            lambda: self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": status}, _preload_content=False
            )
        )

    async def patch_queue_status(self, name: str, status: dict[str, Any]) -> dict[str, Any] | None:
        """The queue as stored after the patch (None when it is gone)."""
        return await _patched(
            lambda: self.custom.patch_cluster_custom_object_status(
                GROUP, VERSION, QUEUE_PLURAL, name, {"status": status}, _preload_content=False
            )
        )

    async def delete_job(self, namespace: str, name: str) -> None:
        def call() -> None:
            try:
                response: Any = self.custom.delete_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    name,
                    propagation_policy="Background",
                    _preload_content=False,
                )
                response.read()
            except ApiException as error:
                if error.status != 404:
                    raise

        await asyncio.to_thread(call)

    async def post_event(
        self, job: Mapping[str, Any], kind: str, reason: str, message: str
    ) -> None:
        """An Event on the ComputeJob, shown by `kubectl describe`."""
        meta = job["metadata"]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ComputeJob",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "type": kind,
            "message": message[:1024],
            "source": {"component": "suanli-operator"},
            "reportingComponent": "suanli-operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }

        def call() -> None:
            try:
                send_json(
                    self.core.api_client,
                    "POST",
                    f"/api/v1/namespaces/{meta['namespace']}/events",
                    body,
                )
            except ApiException as error:
                if error.status not in (403, 404):  # namespace going away, or events not allowed
                    raise

        await asyncio.to_thread(call)
