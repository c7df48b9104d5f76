"""The extender's writes to the apiserver: Bindings, explanation annotations and Events.

Binding happens inline (kube-scheduler waits for it); explanations go through a queue served by
one background thread so they never slow a scheduling cycle down.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from suanli.extender import explain
from suanli.extender.ports import BindError
from suanli.keys import UNSCHEDULABLE_ANNOTATION
from suanli.kube.client import send_json
from suanli.metrics import ExtenderMetrics

COMPONENT = "suanli-extender"
_REASON_MEMORY = 4096
log = logging.getLogger(__name__)


class ApiBinder:
    def __init__(self, core: client.CoreV1Api) -> None:
        self.core = core

    def bind(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
        if annotations:
            # Copied onto the pod by the apiserver in the same write as the node name.
            metadata["annotations"] = dict(annotations)
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": metadata,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            send_json(
                self.core.api_client,
                "POST",
                f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
                body,
            )
        except ApiException as error:
            if error.status == 409 and self._already_on(namespace, name, node):
                return  # a retried bind of a pod already bound here: nothing is bound twice
            raise BindError(
                f"binding pod {namespace}/{name} to {node} failed: {error.status} {error.reason}",
                refused=error.status < 500,
            ) from None

    def _already_on(self, namespace: str, name: str, node: str) -> bool:
        try:
            response: Any = self.core.read_namespaced_pod(name, namespace, _preload_content=False)
        except ApiException:
            return False
        return bool(json.loads(response.data).get("spec", {}).get("nodeName") == node)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiRecorder:
    """Writes explanations asynchronously; an identical unschedulable reason is written once.
    What is not written is counted in `metrics` (`suanli_extender_explanations_lost_total`)."""

    def __init__(self, core: client.CoreV1Api, metrics: ExtenderMetrics) -> None:
        self.core = core
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=10000)
        self._last_reason: OrderedDict[str, str] = OrderedDict()
        self._lost = metrics.explanations_lost
        metrics.explanations_pending.set_function(self._queue.qsize)
        self._thread = threading.Thread(target=self._drain, name="recorder", daemon=True)
        self._thread.start()

    def placed(self, pod: Mapping[str, Any], explanation: dict[str, Any]) -> None:
        said_unschedulable = self._last_reason.pop(str(pod["metadata"].get("uid")), None)
        pod_annotations = pod["metadata"].get("annotations") or {}
        if said_unschedulable or UNSCHEDULABLE_ANNOTATION in pod_annotations:
            cleared = {UNSCHEDULABLE_ANNOTATION: None}
            self._submit(lambda: self._annotate(pod, cleared))
        message = explain.placement_message(explanation)
        self._submit(lambda: self._event(pod, "Placed", "Normal", message))

    def unschedulable(self, pod: Mapping[str, Any], message: str) -> None:
        uid = str(pod["metadata"].get("uid"))
        if self._last_reason.get(uid) == message:
            return
        self._last_reason[uid] = message
        while len(self._last_reason) > _REASON_MEMORY:
            self._last_reason.popitem(last=False)
        annotations = {UNSCHEDULABLE_ANNOTATION: message}
        self._submit(lambda: self._annotate(pod, annotations))
        self._submit(lambda: self._event(pod, "Unschedulable", "Warning", message))

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until queued writes are done (for tests and shutdown)."""
        done = threading.Event()
        self._submit(done.set)
        done.wait(timeout)

    def _submit(self, task: Callable[[], None]) -> None:
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            self._lost.labels("queue_full").inc()

    def _drain(self) -> None:
        while True:
            task = self._queue.get()
            try:
                task()
            except Exception as error:
                # Explanations are best effort, but this thread must outlive any failure (a
                # connection error too), or every later one would wait in the queue for good.
                self._lost.labels("write_failed").inc()
                if isinstance(error, ApiException):  # most often a pod deleted meanwhile (404)
                    log.debug("recording failed: %s %s", error.status, error.reason)
                else:
                    log.warning("recording failed: %s", error)

    def _annotate(self, pod: Mapping[str, Any], annotations: Mapping[str, str | None]) -> None:
        metadata = pod["metadata"]
        send_json(
            self.core.api_client,
            "PATCH",
            f"/api/v1/namespaces/{metadata.get('namespace', 'default')}/pods/{metadata['name']}",
            {"metadata": {"annotations": annotations}},
            content_type="application/merge-patch+json",
        )

    def _event(self, pod: Mapping[str, Any], reason: str, kind: str, message: str) -> None:
        metadata = pod["metadata"]
        namespace = metadata.get("namespace", "default")
        now = _now()
        body = {
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": metadata["name"],
                "namespace": namespace,
                "uid": metadata.get("uid"),
            },
            "reason": reason,
            "type": kind,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        send_json(self.core.api_client, "POST", f"/api/v1/namespaces/{namespace}/events", body)
