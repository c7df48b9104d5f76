"""The end-to-end part of `bench/scheduler.py`: the real kube-scheduler on KWOK nodes.

The same one-GPU pods go through `default-scheduler` and through `suanli-scheduler` (its
extender deciding), in one run on one control plane. Each batch is created while its scheduler
process is stopped, so what is timed, from SIGCONT to the last bind, is scheduling itself.

A batch of a few hundred pods takes seconds, and this machine's noise moves one by a third, so
the two take turns over several rounds (A B, B A, A B, ...: neither is always first) and the
ratio is the median of the rounds' ratios.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
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
_PROCESS = {"default-scheduler": "kube-scheduler", "suanli-scheduler": "suanli-kube-scheduler"}


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(record: ProcessRecord) -> float:
    """User plus system CPU time of a daemon so far (its children's too, which none has)."""
    fields = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_of(records: dict[str, ProcessRecord]) -> dict[str, float]:
    return {name: cpu_seconds(record) for name, record in records.items()}


def rss_mib(record: ProcessRecord) -> float:
    for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _pod(scheduler: str, batch: int, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{scheduler}-{batch}-{index:05d}", "labels": {"bench": scheduler}},
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


def phase_sums(port: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(seconds, requests) per extender verb and phase so far, read from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    sums: dict[tuple[str, str], list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "suanli_extender_phase_duration_seconds":
            continue
        for sample in family.samples:
            key = (sample.labels["verb"], sample.labels["phase"])
            entry = sums.setdefault(key, [0.0, 0.0])
            if sample.name.endswith("_sum"):
                entry[0] = sample.value
            elif sample.name.endswith("_count"):
                entry[1] = sample.value
    return {key: (value[0], value[1]) for key, value in sums.items()}


def phase_means(
    before: dict[tuple[str, str], tuple[float, float]],
    after: dict[tuple[str, str], tuple[float, float]],
) -> dict[str, float]:
    """Mean milliseconds per request of each verb and phase between two readings."""
    means = {}
    for key, (seconds, count) in sorted(after.items()):
        was_seconds, was_count = before.get(key, (0.0, 0.0))
        if count > was_count:
            means[f"{key[0]}.{key[1]}"] = round(
                (seconds - was_seconds) * 1000 / (count - was_count), 3
            )
    return means


def _pods_left(core: client.CoreV1Api, scheduler: str, *, unbound: bool = False) -> int:
    """The scheduler's bench pods that exist (with `unbound`, only those not bound yet)."""
    only = {"field_selector": "spec.nodeName="} if unbound else {}
    response: Any = core.list_namespaced_pod(
        NAMESPACE, label_selector=f"bench={scheduler}", _preload_content=False, **only
    )
    return len(json.loads(response.data)["items"])


def _batch(
    core: client.CoreV1Api,
    records: dict[str, ProcessRecord],
    scheduler: str,
    *,
    batch: int,
    pods: int,
    timeout: float,
) -> tuple[float, dict[str, float]]:
    """Pods per second from resuming the scheduler to the last bind, and the CPU milliseconds
    per pod each daemon spent meanwhile (where a batch's time goes on a shared machine). The
    batch's pods are deleted, and gone, before it returns."""
    record = records[_PROCESS[scheduler]]
    os.kill(record.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda i: core.create_namespaced_pod(
                        NAMESPACE, _pod(scheduler, batch, i), _preload_content=False
                    ).read(),
                    range(pods),
                )
            )
    finally:
        before = cpu_of(records)
        began = time.monotonic()
        os.kill(record.pid, signal.SIGCONT)
    while _pods_left(core, scheduler, unbound=True) and time.monotonic() - began < timeout:
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    after = cpu_of(records)
    spent = {name: round((after[name] - before[name]) * 1000 / pods, 2) for name in records}
    if _pods_left(core, scheduler, unbound=True):
        raise RuntimeError(f"{scheduler}: pods still unbound after {timeout} s")
    core.delete_collection_namespaced_pod(
        NAMESPACE, label_selector=f"bench={scheduler}", grace_period_seconds=0
    )
    gone_by = time.monotonic() + timeout
    while _pods_left(core, scheduler) and time.monotonic() < gone_by:
        time.sleep(0.2)  # the next batch is not timed beside this one's deletion
    return pods / elapsed, spent


def _rounds(
    core: client.CoreV1Api,
    records: dict[str, ProcessRecord],
    pods: int,
    rounds: int,
    timeout: float,
) -> list[dict[str, tuple[float, dict[str, float]]]]:
    """Each round, one batch through each scheduler; who goes first alternates."""
    done = []
    for number in range(rounds):
        order = list(_PROCESS) if number % 2 == 0 else list(reversed(_PROCESS))
        done.append(
            {s: _batch(core, records, s, batch=number, pods=pods, timeout=timeout) for s in order}
        )
    return done


def end_to_end(node_count: int, pods: int, rounds: int, timeout: float = 900) -> dict[str, Any]:
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
            calls_before = phase_sums(state.ports.extender)
            done = _rounds(core, records, pods, rounds, timeout)
            phases = phase_means(calls_before, phase_sums(state.ports.extender))
            memory = {
                name: rss_mib(records[name]) for name in ("suanli-extender", "suanli-operator")
            }
        finally:
            cluster.down(Path(tmp))
    rates = [{s: round(rate, 1) for s, (rate, _) in batches.items()} for batches in done]
    ratios = [round(r["suanli-scheduler"] / r["default-scheduler"], 2) for r in rates]
    return {
        "nodes": node_count,
        "pods": pods,
        "rounds": rates,
        "round_ratios": ratios,
        "default_pods_per_s": round(statistics.median(r["default-scheduler"] for r in rates), 1),
        "suanli_pods_per_s": round(statistics.median(r["suanli-scheduler"] for r in rates), 1),
        "ratio": round(statistics.median(ratios), 2),
        "extender_rss_mib": memory["suanli-extender"],
        "operator_rss_mib": memory["suanli-operator"],
        "extender_phase_ms": phases,
        # Over every round's batch of each scheduler, the mean per daemon.
        "cpu_ms_per_pod": {
            scheduler: {
                name: round(statistics.fmean(b[scheduler][1][name] for b in done), 2)
                for name in records
            }
            for scheduler in _PROCESS
        },
    }
