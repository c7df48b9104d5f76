"""Benchmark: the cost of start estimates per reconcile, with thousands of waiting jobs.

In process, on the operator's own pieces (`TimeKeeper` over a `JobCache`, one cluster state):
the demo fleet scaled to --nodes nodes, every whole NVIDIA GPU held by a running one-device job
(time limits spread over two hours, so each frees at its own moment), and --waiting jobs waiting
for room (one device each, every tenth a 2 x 8-device gang). The reconciles of waiting jobs are
replayed as calls of `TimeKeeper.estimates` every --step seconds of a simulated clock, as a burst
of reconciles would call it:

- `exact only` is what a reconcile paid before the back of the line was estimated: the first 100
  waiting jobs in order, at most 4 exact estimates made per call (`exact_estimates`, which is
  exactly that code);
- `every job` is what it pays now: the same, plus the aggregated walk over every job behind the
  first 100, made again every 2 s (0.5 s while a job there has none).

Both run on their own copy of the same cluster, their calls interleaved. Reported per case: the
first call (cold: it reads every waiting job's pods), then over the other calls the per-call time
(mean, p95, max), how many calls made the aggregated walk and their mean time, and how many
waiting jobs hold an estimate after the last call.

    python bench/estimates.py [--nodes 300] [--waiting 1000 3000] [--calls 60]
        [--out bench/results/estimates.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.cache import JobCache, JobKey
from suanli.controller.podspec import pod_manifest
from suanli.controller.queues import QueueBoard
from suanli.controller.slots import PodSlot
from suanli.controller.timekeeper import TimeKeeper
from suanli.fleet import default_fleet, node_manifests
from suanli.fleet.scale import scale_fleet
from suanli.scoring import PodDemand, parse_pod
from suanli.scoring.snapshot import PlacedPod
from suanli.state import ClusterFeed
from suanli.state.backfill import Planner

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
EXACT, EVERY = "exact only", "every job"
NAMESPACE = "bench"
FILES = ScoringConfigFiles(None, None)


def _job(
    name: str, replicas: int, gpus: int, limit: str, *, phase: str, started: str | None = None
) -> Any:
    task = {
        "name": "w",
        "replicas": replicas,
        "accelerators": {"count": gpus},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    }
    spec: dict[str, Any] = {"tasks": [task], "runPolicy": {"timeLimit": limit}}
    if replicas > 1:
        spec["gang"] = {"minMember": replicas}
    status: dict[str, Any] = {"phase": phase}
    if started is not None:
        status["startTime"] = started
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": f"2026-12-01T11:{len(name) % 60:02d}:00Z",
        },
        "spec": spec,
        "status": status,
    }


def _pod(job: str, node: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{job}-w-0",
            "namespace": NAMESPACE,
            "labels": {"suanli.dev/job": job},
            "resourceVersion": "1",
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
        },
        "status": {"phase": "Running"},
    }


def build(nodes: int, waiting: int) -> tuple[TimeKeeper, int, int]:
    """A keeper over a full fleet and `waiting` jobs; the running jobs and waiting jobs made."""
    manifests = list(node_manifests(scale_fleet(default_fleet(), nodes)))
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(manifests)
    cache = JobCache()
    pods = []
    running = 0
    for node in manifests:
        capacity = node["status"]["capacity"]
        if "nvidia.com/gpu" not in capacity or "nvidia.com/gpumem" in capacity:
            continue
        for _ in range(int(capacity["nvidia.com/gpu"])):
            name = f"run-{running:05d}"
            minutes = 1 + running % 120
            started = (NOW - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            cache.put_job(_job(name, 1, 1, f"{minutes + 1}m", phase="Running", started=started))
            pod = _pod(name, node["metadata"]["name"])
            cache.put_pod(pod, name)
            pods.append(pod)
            running += 1
    feed.replace_pods(pods)
    for index in range(waiting):
        gang = index % 10 == 9
        name = f"wait-{index:05d}"
        cache.put_job(_job(name, 2 if gang else 1, 8 if gang else 1, "30m", phase="Queued"))

    def demands(job: ComputeJob, body: Mapping[str, Any], missing: list[PodSlot]) -> Any:
        found: list[PodDemand] = [
            parse_pod(pod_manifest(job, dict(body["metadata"]), s, FILES.catalog)) for s in missing
        ]
        return found

    def promised(_key: JobKey) -> list[PlacedPod]:
        return []

    keeper = TimeKeeper(
        cache=cache,
        board=QueueBoard(),
        planner=lambda: Planner(feed, FILES.catalog, FILES.latency),
        demands=demands,
        promised=promised,
    )
    return keeper, running, waiting


def _call(keeper: TimeKeeper, variant: str, now: dt.datetime) -> tuple[float, int, bool]:
    """One reconcile's estimates: seconds taken, waiting jobs estimated, whether it walked."""
    began = time.perf_counter()
    if variant == EXACT:
        waiters = keeper.waiters()
        running, _ = keeper.running(now, expected=True)
        found = keeper.exact_estimates(now, waiters, running)
    else:
        found, waiters, _ = keeper.estimates(now)
    took = time.perf_counter() - began
    return took, sum(1 for w in waiters if w.candidate.job in found), keeper.walked_at == now


def measure(nodes: int, waiting: int, calls: int, step: float) -> list[dict[str, Any]]:
    """Both variants on their own copy of the same cluster, their calls interleaved so that the
    machine's other load falls on both alike."""
    keepers = {variant: build(nodes, waiting) for variant in (EXACT, EVERY)}
    taken: dict[str, list[tuple[float, int, bool]]] = {v: [] for v in keepers}
    for index in range(calls):
        now = NOW + dt.timedelta(seconds=index * step)
        for variant, (keeper, _, _) in keepers.items():
            taken[variant].append(_call(keeper, variant, now))
    rows = []
    for variant, calls_made in taken.items():
        first, *rest = calls_made
        times = sorted(t for t, _, _ in rest)
        walks = [t for t, _, walked in rest if walked]
        rows.append(
            {
                "nodes": nodes,
                "running": keepers[variant][1],
                "waiting": waiting,
                "variant": variant,
                "first_ms": round(1000 * first[0], 1),
                "calls": len(rest),
                "mean_ms": round(1000 * statistics.mean(times), 1),
                "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
                "max_ms": round(1000 * times[-1], 1),
                "walks": len(walks),
                "walk_call_ms": round(1000 * statistics.mean(walks), 1) if walks else None,
                "estimated": rest[-1][1],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--waiting", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--step", type=float, default=0.1, help="simulated seconds per call")
    parser.add_argument("--out", type=Path, default=Path("bench/results/estimates.json"))
    args = parser.parse_args()
    rows = []
    for waiting in args.waiting:
        rows.extend(measure(args.nodes, waiting, args.calls, args.step))
    header = (
        f"{'nodes':>5} {'running':>7} {'waiting':>7}  {'variant':<10} {'first ms':>8} "
        f"{'calls':>5} {'mean ms':>8} {'p95 ms':>8} {'max ms':>8} {'walks':>5} "
        f"{'walk call ms':>12} {'estimated':>9}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['nodes']:>5} {r['running']:>7} {r['waiting']:>7}  {r['variant']:<10} "
            f"{r['first_ms']:>8} {r['calls']:>5} {r['mean_ms']:>8} {r['p95_ms']:>8} "
            f"{r['max_ms']:>8} {r['walks']:>5} {r['walk_call_ms'] or '-':>12} "
            f"{r['estimated']:>9}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "machine": platform.machine()}
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
