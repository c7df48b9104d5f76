"""The fleets and pods of `bench/scheduler.py`: the demo fleet scaled, about half allocated.

Everything is seeded, so the in-process and the HTTP measurements judge the same states.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.extender.owners import KnownJobs
from suanli.extender.process import settle_gc
from suanli.extender.service import ExtenderService
from suanli.extender.settings import ExtenderSettings
from suanli.fleet import default_fleet, node_manifests, scale_fleet
from suanli.keys import DEMAND_ANNOTATION, GPU_DEVICES_ANNOTATION, GPU_MILLI_ANNOTATION, JOB_LABEL
from suanli.metrics import ExtenderMetrics
from suanli.state import ClusterFeed

FILES = ScoringConfigFiles(None, None)
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "huawei.com/Ascend910")


def fleet_nodes(count: int) -> list[dict[str, Any]]:
    return list(node_manifests(scale_fleet(default_fleet(), count)))


def _resource(node: dict[str, Any]) -> tuple[str, int] | None:
    allocatable = node["status"]["allocatable"]
    for name in _GPU_RESOURCES:
        if int(allocatable.get(name, "0")) > 0:
            return name, int(allocatable[name])
    return None


def occupants(nodes: list[dict[str, Any]], seed: int = 7) -> Iterator[dict[str, Any]]:
    """Bound pods that take about half of every resource kind: whole devices, shares on
    some devices, cpu and memory on the rest; seeded."""
    rng = random.Random(seed)
    for node in nodes:
        name = node["metadata"]["name"]
        found = _resource(node)
        cpu = int(str(node["status"]["allocatable"]["cpu"]).rstrip("m") or "0")
        if found is None:
            if rng.random() < 0.5:
                yield _pod(f"cpu-{name}", name, {"cpu": str(max(1, cpu // 2))})
            continue
        resource, count = found
        whole = rng.randint(0, count)
        if whole:
            yield _pod(f"gpu-{name}", name, {resource: str(whole), "cpu": "4"})
        if whole < count and rng.random() < 0.3:
            pod = _pod(f"share-{name}", name, {"cpu": "1"})
            pod["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = "250"
            pod["metadata"]["annotations"][GPU_DEVICES_ANNOTATION] = f"{whole}:250"
            yield pod


# The pending pods belong to one ComputeJob the service knows, as the operator's pods do: the
# extender believes their demand only then, and the owner check is part of what is measured.
BENCH_JOB = {"metadata": {"namespace": "bench", "name": "bench", "uid": "uid-bench"}}
_OWNER = {"apiVersion": "suanli.dev/v1alpha1", "kind": "ComputeJob", "name": "bench"}


def _pod(
    name: str,
    node: str | None,
    requests: dict[str, str],
    demand: dict[str, Any] | None = None,
    job: str | None = None,
) -> dict[str, Any]:
    annotations = {DEMAND_ANNOTATION: json.dumps(demand)} if demand else {}
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "bench",
            "uid": f"uid-{name}",
            "labels": {JOB_LABEL: job} if job else {},
            "annotations": annotations,
            "ownerReferences": [{**_OWNER, "uid": "uid-bench", "controller": True}],
        },
        "spec": {
            "schedulerName": "suanli-scheduler",
            "containers": [{"name": "main", "resources": {"limits": requests}}],
        },
        "status": {"phase": "Running" if node else "Pending"},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def filled_feed(count: int) -> ClusterFeed:
    nodes = fleet_nodes(count)
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(nodes)
    feed.replace_pods(list(occupants(nodes)))
    settle_gc()  # as the extender does once its caches are synced
    return feed


def gpu_utilisation(feed: ClusterFeed) -> float:
    state = feed.state
    total = used = 0
    for entry in state.nodes.values():
        devices = entry.snapshot().devices_used()
        total += 1000 * len(devices)
        used += sum(devices)
    return used / total if total else 0.0


def pending_pods(kind: str, index: int) -> dict[str, Any]:
    """One pending pod of a benchmark kind."""
    name = f"{kind}-{index}"
    if kind == "one-gpu":
        return _pod(name, None, {"nvidia.com/gpu": "1", "cpu": "2"})
    if kind == "gang-8-gpu":
        demand = {"acceleratorTypes": ["H100", "A100"], "sameDomain": "zone"}
        return _pod(name, None, {"nvidia.com/gpu": "8", "cpu": "16"}, demand, job="gang")
    if kind == "gpu-share":
        pod = _pod(name, None, {"cpu": "1"})
        pod["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = "250"
        return pod
    if kind == "cpu":
        return _pod(name, None, {"cpu": "2", "memory": "4Gi"})
    if kind == "edge-latency":
        demand = {"tiers": ["edge"], "sites": ["sh-edge-1"], "maxLatencyMs": 30}
        pod = _pod(name, None, {"cpu": "500m"}, demand)
        # As the operator gives edge jobs: the fleet's edge nodes are tainted.
        pod["spec"]["tolerations"] = [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}]
        return pod
    raise ValueError(kind)


KINDS = ("one-gpu", "gang-8-gpu", "gpu-share", "cpu", "edge-latency")


class NullBinder:
    def bind(self, *args: Any, **kwargs: Any) -> None:
        return None


class NullRecorder:
    def placed(self, pod: Any, explanation: Any) -> None:
        return None

    def unschedulable(self, pod: Any, message: str) -> None:
        return None


def service_over(feed: ClusterFeed) -> ExtenderService:
    return ExtenderService(
        settings=ExtenderSettings(),
        cache=feed,
        config_files=FILES,
        metrics=ExtenderMetrics(),
        binder=NullBinder(),
        recorder=NullRecorder(),
        jobs=KnownJobs([BENCH_JOB]),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 3),
        "p99_ms": round(percentile(values, 0.99) * 1000, 3),
    }
