"""Benchmark: many ComputeJobs through the operator, the real kube-scheduler and the extender.

A fresh local control plane with the demo fleet scaled to --nodes, Suanli's extender and operator
started as in `suanli demo`, then --jobs ComputeJobs of --replicas pods each (one in five a GPU
gang) submitted as fast as the apiserver takes them. Reported: time until every job is Running,
creation-to-Running latency (p50/p99, from each job's creationTimestamp to its status.startTime),
and the resident memory of the operator and the extender. The time to create the jobs is the
baseline of the same run: `running_vs_submit` says how far the system lags behind submission.
First, the same pods as plain Pods through `default-scheduler` (no operator, no extender) are
created and timed until Running, then deleted: the `plain_*` figures are what this control plane
and machine do on their own, and `pods_per_s_vs_plain` is the ratio of the two rates.
Also reported: the apiserver requests, operator reconciles and Events per job, the most
frequent FailedScheduling messages, and `pod_timeline_s`: seconds from the first pod's creation
until a quarter, half, three quarters and all of the pods were created, bound and started.

    python bench/computejobs.py [--jobs 1000] [--replicas 4] [--nodes 1000] [--out FILE.json]
    python bench/computejobs.py --jobs 1 --replicas 4096 --nodes 5000 --gpu-every 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from suanli.devcluster import cluster, components, nodes
from suanli.devcluster.processes import ProcessRecord
from suanli.fleet import default_fleet, scale_fleet
from suanli.kube.client import api_client

NAMESPACE = "bench"


def _job(index: int, replicas: int, gpu_share: int = 5) -> dict[str, Any]:
    gpu = gpu_share > 0 and index % gpu_share == 0
    task: dict[str, Any] = {
        "name": "work",
        "replicas": replicas,
        "template": {
            # Long enough to stay Running until the benchmark has seen every job start.
            "metadata": {"annotations": {"suanli.dev/run-duration": "2h"}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                    }
                ]
            },
        },
    }
    spec: dict[str, Any] = {"workload": "training" if gpu else "batch", "tasks": [task]}
    if gpu:
        task["accelerators"] = {"count": 1, "types": ["L40S", "T4", "A100"]}
        spec["gang"] = {"minMember": replicas, "timeoutSeconds": 600}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": f"job-{index:05d}"},
        "spec": spec,
    }


def _rss_mib(record: ProcessRecord) -> float:
    for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _list_jobs(custom: client.CustomObjectsApi) -> list[dict[str, Any]]:
    response: Any = custom.list_namespaced_custom_object(
        "suanli.dev", "v1alpha1", NAMESPACE, "computejobs", _preload_content=False
    )
    return list(json.loads(response.data)["items"])


def _submit(custom: client.CustomObjectsApi, jobs: int, replicas: int, gpu_share: int) -> float:
    began = time.monotonic()

    def create(index: int) -> None:
        body = _job(index, replicas, gpu_share)
        custom.create_namespaced_custom_object(
            "suanli.dev", "v1alpha1", NAMESPACE, "computejobs", body, _preload_content=False
        ).read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(jobs)))
    return time.monotonic() - began


def _plain_pod(index: int, gpu: bool) -> dict[str, Any]:
    limits = {"nvidia.com/gpu": "1"} if gpu else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"plain-{index:05d}",
            "labels": {"bench": "plain"},
            "annotations": {"suanli.dev/run-duration": "2h"},
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {
                        "requests": {"cpu": "1", "memory": "2Gi", **limits},
                        "limits": limits,
                    },
                }
            ]
        },
    }


def _count(core: client.CoreV1Api, field_selector: str) -> int:
    response: Any = core.list_namespaced_pod(
        NAMESPACE,
        label_selector="bench=plain",
        field_selector=field_selector,
        _preload_content=False,
    )
    return len(json.loads(response.data)["items"])


def _plain_baseline(
    core: client.CoreV1Api, jobs: int, replicas: int, gpu_share: int, timeout: float
) -> dict[str, float]:
    """The same pods as plain Pods through `default-scheduler`, without the operator: what this
    control plane and machine manage on their own, the yardstick of the ComputeJob figures."""
    began = time.monotonic()
    shapes = [
        gpu_share > 0 and job % gpu_share == 0 for job in range(jobs) for _ in range(replicas)
    ]

    def create(index: int) -> None:
        core.create_namespaced_pod(
            NAMESPACE, _plain_pod(index, shapes[index]), _preload_content=False
        ).read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(len(shapes))))
    submit_s = time.monotonic() - began
    while _count(core, "status.phase!=Running") and time.monotonic() - began < timeout:
        time.sleep(2)
    all_running_s = time.monotonic() - began
    while _count(core, "") and time.monotonic() - began < timeout + 300:
        _delete_plain(core)
        time.sleep(2)
    return {
        "plain_submit_s": round(submit_s, 1),
        "plain_all_running_after_last_submit_s": round(all_running_s - submit_s, 1),
        "plain_pods_per_s": round(len(shapes) / all_running_s, 1),
    }


def _delete_plain(core: client.CoreV1Api) -> None:
    """Delete the plain pods; sent again while some remain: a collection delete that outlasts
    its request (thousands of pods) stops where its timeout found it."""
    try:
        core.delete_collection_namespaced_pod(
            NAMESPACE, label_selector="bench=plain", grace_period_seconds=0
        )
    except client.ApiException as error:
        if error.status != 504:
            raise


def _api_requests(api: client.ApiClient) -> dict[str, float]:
    """The apiserver's request counts so far by verb, resource and subresource (every client)."""
    configuration = api.configuration
    headers = dict(api.default_headers)
    for setting in configuration.auth_settings().values():
        if setting["in"] == "header" and setting["value"]:
            headers[setting["key"]] = setting["value"]
    answer = api.rest_client.pool_manager.request(
        "GET", f"{configuration.host}/metrics", headers=headers, timeout=60
    )
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.data.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            resource = labels.get("resource", "")
            if labels.get("group"):
                resource = f"{labels['group']}/{resource}"
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            key = f"{labels.get('verb', '')} {resource}"
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _operator_reconciles(state: Any) -> float:
    """The operator's reconciles so far, read from its /metrics (port from its command line)."""
    record = next(r for r in state.processes if r.name == "suanli-operator")
    arguments = Path(f"/proc/{record.pid}/cmdline").read_bytes().decode().split("\0")
    port = next(a.split("=", 1)[1] for a in arguments if a.startswith("--metrics-port="))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "suanli_operator_reconciles"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def _per_job(before: dict[str, float], after: dict[str, float], jobs: int) -> dict[str, float]:
    """Requests per job while the jobs ran, the largest first (writes and reads of every client)."""
    grown = {key: after[key] - before.get(key, 0.0) for key in after}
    ordered = sorted(grown.items(), key=lambda item: -item[1])
    return {key: round(value / jobs, 2) for key, value in ordered if value / jobs >= 0.05}


def _events_per_job(core: client.CoreV1Api, jobs: int) -> dict[str, float]:
    """The namespace's core/v1 Events per job by component and reason (who writes how much)."""
    response: Any = core.list_namespaced_event(NAMESPACE, _preload_content=False)
    counts: dict[str, int] = {}
    for event in json.loads(response.data)["items"]:
        if str((event.get("involvedObject") or {}).get("name", "")).startswith("plain-"):
            continue  # the baseline's pods
        component = event.get("reportingComponent") or (event.get("source") or {}).get(
            "component", ""
        )
        key = f"{component} {event.get('reason', '')}"
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return {key: round(count / jobs, 2) for key, count in ordered}


def _failed_scheduling(core: client.CoreV1Api) -> dict[str, int]:
    """FailedScheduling Events of the jobs' pods by message (numbers and names blanked), the
    most frequent first: why pods had to be tried again."""
    response: Any = core.list_namespaced_event(
        NAMESPACE, field_selector="reason=FailedScheduling", _preload_content=False
    )
    counts: dict[str, int] = {}
    for event in json.loads(response.data)["items"]:
        if str((event.get("involvedObject") or {}).get("name", "")).startswith("plain-"):
            continue
        message = re.sub(r"[0-9]+", "N", str(event.get("message", "")))
        message = re.sub(r"bench/\S+", "POD", message)[:160]
        counts[message] = counts.get(message, 0) + int(event.get("count") or 1)
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:5])


def _pod_timeline(core: client.CoreV1Api) -> dict[str, list[float]]:
    """Seconds from the first pod's creation until 25/50/75/100 % of the jobs' pods were
    created, bound (PodScheduled) and started: which step lagged."""
    response: Any = core.list_namespaced_pod(NAMESPACE, _preload_content=False)
    created: list[float] = []
    bound: list[float] = []
    started: list[float] = []
    for pod in json.loads(response.data)["items"]:
        if pod["metadata"]["name"].startswith("plain-"):
            continue
        created.append(_time(pod["metadata"]["creationTimestamp"]).timestamp())
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition["type"] == "PodScheduled" and condition["status"] == "True":
                bound.append(_time(condition["lastTransitionTime"]).timestamp())
        if status.get("startTime"):
            started.append(_time(status["startTime"]).timestamp())
    if not created:
        return {}
    first = min(created)
    return {
        step: [round(_percentile([t - first for t in times], q), 1) for q in (0.25, 0.5, 0.75, 1)]
        for step, times in (("created", created), ("bound", bound), ("started", started))
        if times
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    jobs: int,
    replicas: int,
    node_count: int,
    timeout: float,
    *,
    gpu_share: int = 5,
    baseline: bool = True,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suanli-bench-op-") as tmp:
        state = cluster.up(cluster.UpOptions(state_dir=Path(tmp)))
        try:
            count = nodes.apply_fleet(
                Path(state.kubeconfig), scale_fleet(default_fleet(), node_count)
            )
            nodes.wait_nodes_ready(Path(state.kubeconfig), count, timeout=600)
            state = components.start_suanli(state)
            components.kubectl(state, "create", "namespace", NAMESPACE)
            api = api_client(Path(state.kubeconfig))
            custom = client.CustomObjectsApi(api)
            plain = (
                _plain_baseline(client.CoreV1Api(api), jobs, replicas, gpu_share, timeout)
                if baseline
                else {}
            )
            requests_before = _api_requests(api)
            reconciles_before = _operator_reconciles(state)
            began = time.monotonic()
            submit_s = _submit(custom, jobs, replicas, gpu_share)
            running: list[dict[str, Any]] = []
            while time.monotonic() - began < timeout:
                listed = _list_jobs(custom)
                running = [j for j in listed if j.get("status", {}).get("phase") == "Running"]
                if len(running) == jobs:
                    break
                time.sleep(2)
            all_running_s = time.monotonic() - began
            requests = _per_job(requests_before, _api_requests(api), jobs)
            reconciles = _operator_reconciles(state) - reconciles_before
            events = _events_per_job(client.CoreV1Api(api), jobs)
            failed = _failed_scheduling(client.CoreV1Api(api))
            timeline = _pod_timeline(client.CoreV1Api(api))
            latencies = [
                (
                    _time(j["status"]["startTime"]) - _time(j["metadata"]["creationTimestamp"])
                ).total_seconds()
                for j in running
            ]
            rss = {
                r.name: round(_rss_mib(r), 1)
                for r in state.processes
                if r.name.startswith("suanli-")
            }
        finally:
            cluster.down(Path(tmp))
    return {
        "jobs": jobs,
        "pods": jobs * replicas,
        "nodes": node_count,
        "jobs_running": len(running),
        "submit_s": round(submit_s, 1),
        "all_running_s": round(all_running_s, 1),
        "running_vs_submit": round(all_running_s / submit_s, 2),
        "all_running_after_last_submit_s": round(all_running_s - submit_s, 1),
        "pods_per_s": round(len(running) * replicas / all_running_s, 1),
        "latency_p50_s": round(_percentile(latencies, 0.5), 2) if latencies else None,
        "latency_p99_s": round(_percentile(latencies, 0.99), 2) if latencies else None,
        "operator_rss_mib": rss.get("suanli-operator"),
        "extender_rss_mib": rss.get("suanli-extender"),
        "operator_reconciles_per_job": round(reconciles / jobs, 2),
        "api_requests_per_job": requests,
        "events_per_job": events,
        "failed_scheduling": failed,
        "pod_timeline_s": timeline,
        **plain,
        "pods_per_s_vs_plain": (
            round(len(running) * replicas / all_running_s / plain["plain_pods_per_s"], 2)
            if plain
            else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=3000)
    parser.add_argument(
        "--gpu-every",
        type=int,
        default=5,
        help="every Nth job is a GPU gang (0: only CPU batch jobs, e.g. one 4096-replica job)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the same pods as plain Pods through default-scheduler first",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/computejobs.json"))
    args = parser.parse_args()
    result = run(
        args.jobs,
        args.replicas,
        args.nodes,
        args.timeout,
        gpu_share=args.gpu_every,
        baseline=not args.no_baseline,
    )
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "result": result}, indent=2))
    width = max(len(k) for k in result)
    for key, value in result.items():
        if isinstance(value, dict):
            print(key)
            for inner, figure in value.items():
                print(f"  {inner:<{width}}  {figure}")
        else:
            print(f"{key:<{width}}  {value}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    # Stopped from outside, still take the local control plane down (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
