"""The end-to-end part of `bench/scheduler.py`: the real kube-scheduler on KWOK nodes.

The same one-GPU pods go through `default-scheduler`, then through `suanli-scheduler` (its
extender deciding), in one run on one control plane. Each batch is created while its scheduler
process is stopped, so what is timed, from SIGCONT to the last bind, is scheduling itself.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client

from suanli.cli import default_fleet
from suanli.devcluster import cluster, components, nodes
from suanli.devcluster.processes import ProcessRecord
from suanli.fleet import scale_fleet
from suanli.kube.client import api_client

NAMESPACE = "bench"
_PROCESS = {"default-scheduler": "kube-scheduler", "suanli-scheduler": "suanli-kube-scheduler"}


def rss_mib(record: ProcessRecord) -> float:
    for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _pod(scheduler: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{scheduler}-{index:05d}", "labels": {"bench": scheduler}},
        "spec": {
            "schedulerName": scheduler,
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "1"}},
                }
            ],
        },
    }


def _unbound(core: client.CoreV1Api, scheduler: str) -> int:
    response: Any = core.list_namespaced_pod(
        NAMESPACE,
        label_selector=f"bench={scheduler}",
        field_selector="spec.nodeName=",
        _preload_content=False,
    )
    return len(json.loads(response.data)["items"])


def _batch(
    core: client.CoreV1Api, record: ProcessRecord, scheduler: str, pods: int, timeout: float
) -> float:
    """Pods per second from resuming the scheduler to the last bind."""
    os.kill(record.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda i: core.create_namespaced_pod(
                        NAMESPACE, _pod(scheduler, i), _preload_content=False
                    ).read(),
                    range(pods),
                )
            )
    finally:
        began = time.monotonic()
        os.kill(record.pid, signal.SIGCONT)
    while _unbound(core, scheduler) and time.monotonic() - began < timeout:
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    if _unbound(core, scheduler):
        raise RuntimeError(f"{scheduler}: pods still unbound after {timeout} s")
    core.delete_collection_namespaced_pod(
        NAMESPACE, label_selector=f"bench={scheduler}", grace_period_seconds=0
    )
    return pods / elapsed


def end_to_end(node_count: int, pods: int, timeout: float = 900) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suanli-bench-sched-") as tmp:
        state = cluster.up(cluster.UpOptions(state_dir=Path(tmp)))
        try:
            kubeconfig = Path(state.kubeconfig)
            count = nodes.apply_fleet(kubeconfig, scale_fleet(default_fleet(), node_count))
            nodes.wait_nodes_ready(kubeconfig, count, timeout=1200)
            state = components.start_suanli(state)
            components.kubectl(state, "create", "namespace", NAMESPACE)
            core = client.CoreV1Api(api_client(kubeconfig))
            records = {r.name: r for r in state.processes}
            rates = {
                scheduler: round(_batch(core, records[process], scheduler, pods, timeout), 1)
                for scheduler, process in _PROCESS.items()
            }
            memory = {
                name: rss_mib(records[name]) for name in ("suanli-extender", "suanli-operator")
            }
        finally:
            cluster.down(Path(tmp))
    return {
        "nodes": node_count,
        "pods": pods,
        "default_pods_per_s": rates["default-scheduler"],
        "suanli_pods_per_s": rates["suanli-scheduler"],
        "ratio": round(rates["suanli-scheduler"] / rates["default-scheduler"], 2),
        "extender_rss_mib": memory["suanli-extender"],
        "operator_rss_mib": memory["suanli-operator"],
    }
