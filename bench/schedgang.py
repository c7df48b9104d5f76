"""The gang part of `bench/scheduler.py`: how soon a waiting gang starts once capacity is freed.

On the demo fleet (4 H100 nodes of 8 devices), two gangs of 3 pods x 8 H100 each: the first runs
for a while, the second cannot fit beside it and waits (Queued). Measured: from the moment the
first gang's pods are all seen finished to the moment the second gang is Running (polled every
0.1 s, so the figure is good to about 0.2 s).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from suanli.devcluster import cluster, components, nodes
from suanli.fleet import default_fleet
from suanli.kube.client import api_client

NAMESPACE = "gangs"
_TERMINAL = {"Succeeded", "Failed"}


def _gang(name: str, run_for: str) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "busybox",
        "resources": {"requests": {"cpu": "8", "memory": "64Gi"}},
    }
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": {
            "workload": "training",
            "gang": {"minMember": 3, "timeoutSeconds": 600},
            "tasks": [
                {
                    "name": "worker",
                    "replicas": 3,
                    "accelerators": {"count": 8, "types": ["H100"]},
                    "template": {
                        "metadata": {"annotations": {"suanli.dev/run-duration": run_for}},
                        "spec": {"restartPolicy": "Never", "containers": [container]},
                    },
                }
            ],
        },
    }


def _phase(custom: client.CustomObjectsApi, name: str) -> str | None:
    response: Any = custom.get_namespaced_custom_object(
        "suanli.dev", "v1alpha1", NAMESPACE, "computejobs", name, _preload_content=False
    )
    return (json.loads(response.data).get("status") or {}).get("phase")


def _pod_phases(core: client.CoreV1Api, job: str) -> list[str]:
    response: Any = core.list_namespaced_pod(
        NAMESPACE, label_selector=f"suanli.dev/job={job}", _preload_content=False
    )
    return [p.get("status", {}).get("phase", "") for p in json.loads(response.data)["items"]]


def _wait(condition: Any, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return time.monotonic()


def gang_requeue(timeout: float = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suanli-bench-gang-") as tmp:
        state = cluster.up(cluster.UpOptions(state_dir=Path(tmp)))
        try:
            kubeconfig = Path(state.kubeconfig)
            count = nodes.apply_fleet(kubeconfig, default_fleet())
            nodes.wait_nodes_ready(kubeconfig, count, timeout=300)
            state = components.start_suanli(state)
            components.kubectl(state, "create", "namespace", NAMESPACE)
            api = api_client(kubeconfig)
            custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
            for name, run_for in (("first", "20s"), ("second", "20s")):
                custom.create_namespaced_custom_object(
                    "suanli.dev", "v1alpha1", NAMESPACE, "computejobs", _gang(name, run_for)
                )
                if name == "first":
                    _wait(lambda: _phase(custom, "first") == "Running", timeout, "first Running")
            _wait(lambda: _phase(custom, "second") == "Queued", timeout, "second Queued")

            def first_done() -> bool:
                phases = _pod_phases(core, "first")
                return bool(phases) and all(p in _TERMINAL for p in phases)

            freed = _wait(first_done, timeout, "the first gang to finish")
            started = _wait(
                lambda: _phase(custom, "second") == "Running", timeout, "second Running"
            )
        finally:
            cluster.down(Path(tmp))
    return {"second_gang_start_after_freed_s": round(started - freed, 2)}
