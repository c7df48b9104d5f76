"""Benchmark: quota admission side by side, Suanli's ComputeQueues and Kueue's ClusterQueues.

One workload, run through each system on a fresh local control plane with the same fleet
(--nodes, the demo mix of NVIDIA types): 2 cohorts x 3 queues (weights 1, 1, 2), --jobs-per-queue
jobs each of 1-4 pods x 1-8 GPUs accepting one or two GPU types, each pod running 20-60 s (KWOK
ends it). Each cohort has a pool queue holding half of each type's GPUs as nominal quota and
running nothing; the queues with jobs have no nominal quota and borrow from their pool, so the
split follows fair sharing alone. Suanli gets ComputeJobs; Kueue gets batch/v1 Jobs (suspended,
labelled with their LocalQueue, node affinity to the accepted types), which
kube-controller-manager runs and default-scheduler places once Kueue admits them.

Reported per system: admission throughput (the best 60 s window of admissions, as Kueue's own
performance tests measure it, and the mean), time until every job is admitted and until every
job finished, each queue's GPU-seconds against its weighted fair share, and fleet GPU
utilisation over time (GPUs of Running pods, counted from the pods for both systems; sampled; a
PNG plot).

The share is counted over the samples in which every queue had work waiting and asked for at
least its fair share: the GPUs its admitted jobs hold and its waiting jobs request come to its
weight's part of its cohort's GPUs (`backlogged`). Fair sharing owes a queue its part only
while it asks for it; the queue of weight 2, served twice as fast, runs down to its last few
(often large, single-type) jobs well before the others, and from then on no admission order
can give it half of its cohort. The figure over every sample in which each queue had at least
one job waiting, which counts that tail, is reported beside it
(`worst_share_error_all_waiting`).

    python bench/queues.py [--nodes 500] [--jobs-per-queue 300] [--out bench/results/queues.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kueuepeer

from suanli.devcluster import cluster, components, nodes, statefile
from suanli.devcluster.processes import Daemon
from suanli.devcluster.processes import stop as stop_daemon
from suanli.fleet import default_fleet, scale_fleet
from suanli.kube.client import api_client

PRODUCTS = {
    "H100": "NVIDIA-H100-80GB-HBM3",
    "A100": "NVIDIA-A100-SXM4-80GB",
    "L40S": "NVIDIA-L40S",
    "T4": "Tesla-T4",
}
COHORTS = ("vision", "speech")
WEIGHTS = (1, 1, 2)
SAMPLE_SECONDS = 2.0


@dataclass(frozen=True)
class Job:
    queue: str
    name: str
    replicas: int
    gpus: int
    types: tuple[str, ...]
    seconds: int


def queues() -> dict[str, dict[str, Any]]:
    """The queues that get jobs: no nominal quota of their own, they borrow from their pool."""
    return {
        f"{cohort}-{index}": {"cohort": cohort, "weight": weight}
        for cohort in COHORTS
        for index, weight in enumerate(WEIGHTS)
    }


def pools() -> dict[str, dict[str, Any]]:
    """One queue per cohort that holds the cohort's whole quota and runs nothing: all the
    queues with jobs borrow, so how the pool is split is fair sharing's doing alone (equal
    nominal quotas would each be guaranteed, and no weight could change the split)."""
    return {f"{cohort}-pool": {"cohort": cohort, "weight": 1} for cohort in COHORTS}


def quotas(per_queue: dict[str, int]) -> dict[str, dict[str, int]]:
    """Nominal GPUs per queue and type: a cohort's worth in each pool, none elsewhere."""
    cohort = {name: 3 * amount for name, amount in per_queue.items()}
    return {
        **{queue: dict.fromkeys(per_queue, 0) for queue in queues()},
        **{pool: cohort for pool in pools()},
    }


def workload(per_queue: int, quota: dict[str, int], seed: int = 7) -> list[Job]:
    """Seeded jobs; each fits the cohort's quota of every type it accepts (three queues'
    nominal), so every job can be admitted by both systems in the end."""
    chance = random.Random(seed)
    cohort = {name: 3 * amount for name, amount in quota.items()}
    jobs: list[Job] = []
    for queue in queues():
        while sum(1 for j in jobs if j.queue == queue) < per_queue:
            gpus = chance.choice((1, 1, 2, 4, 8))
            replicas = chance.choice((1, 1, 2, 4))
            first = chance.choice(list(PRODUCTS))
            types = (first, chance.choice([t for t in PRODUCTS if t != first]))
            types = types if chance.random() < 0.5 else (first,)
            if gpus > 4 and any(t in ("L40S", "T4") for t in types):
                continue  # those nodes have 4 devices
            if any(gpus * replicas > cohort.get(t, 0) for t in types):
                continue
            index = sum(1 for j in jobs if j.queue == queue)
            jobs.append(
                Job(queue, f"{queue}-{index:04d}", replicas, gpus, types, chance.randint(20, 60))
            )
    # Submitted in turns, one job of each queue after the other, as teams working at the same
    # time do: submitted queue by queue, the first queue would take the whole pool before the
    # others had a job waiting, and no admission order could share it out.
    return sorted(jobs, key=lambda j: (j.name.rsplit("-", 1)[1], j.queue))


def fleet_gpus(node_count: int) -> dict[str, int]:
    total: dict[str, int] = {}
    for pool in scale_fleet(default_fleet(), node_count).pools:
        gpu = pool.gpu
        if gpu is not None:
            for name, product in PRODUCTS.items():
                if gpu.product == product:
                    total[name] = total.get(name, 0) + gpu.count * pool.count
    return total


def nominal(gpus: dict[str, int]) -> dict[str, int]:
    share = len(queues())
    return {name: count // share for name, count in gpus.items()}


def _template(job: Job, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"annotations": {"suanli.dev/run-duration": f"{job.seconds}s"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi", **extra},
                        "limits": extra,
                    },
                }
            ],
        },
    }


class Suanli:
    name = "suanli"

    def stop(self) -> None:
        return None  # its processes are the control plane's: `cluster.down` stops them

    def start(self, state: statefile.ClusterState, work: Path) -> None:
        components.start_suanli(state)

    def setup(self, custom: client.CustomObjectsApi, quota: dict[str, int]) -> None:
        nominal = quotas(quota)
        for queue, spec in {**queues(), **pools()}.items():
            body = {
                "apiVersion": "suanli.dev/v1alpha1",
                "kind": "ComputeQueue",
                "metadata": {"name": queue},
                "spec": {
                    "cohort": spec["cohort"],
                    "fairShare": {"weight": spec["weight"], "usageHalfLifeHours": 0},
                    # As Kueue's ClusterQueues preempt by fair share in the same run
                    # (reclaimWithinCohort Any with its fairSharing preemptionStrategies).
                    "preemption": {"fairSharing": True},
                    "quotas": [{"resource": t, "nominal": n} for t, n in nominal[queue].items()],
                },
            }
            custom.create_cluster_custom_object("suanli.dev", "v1alpha1", "computequeues", body)

    def submit(self, api: client.ApiClient, job: Job) -> None:
        task = {
            "name": "work",
            "replicas": job.replicas,
            "accelerators": {"count": job.gpus, "types": list(job.types)},
            "template": _template(job, {}),
        }
        body = {
            "apiVersion": "suanli.dev/v1alpha1",
            "kind": "ComputeJob",
            "metadata": {"name": job.name},
            "spec": {"queue": job.queue, "workload": "training", "tasks": [task]},
        }
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "suanli.dev", "v1alpha1", job.queue, "computejobs", body, _preload_content=False
        ).read()

    def observe(self, api: client.ApiClient) -> dict[str, dict[str, Any]]:
        items = client.CustomObjectsApi(api).list_cluster_custom_object(
            "suanli.dev", "v1alpha1", "computejobs"
        )["items"]
        seen = {}
        for item in items:
            status = item.get("status") or {}
            seen[item["metadata"]["name"]] = {
                "admitted": (status.get("admission") or {}).get("admittedAt"),
                "done": status.get("phase") == "Succeeded",
                "phase": status.get("phase"),
                # The condition stays on the job once it was preempted.
                "preempted": any(
                    c.get("type") == "Preempted" for c in status.get("conditions") or []
                ),
            }
        return seen


class Kueue:
    name = "kueue"

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.daemon: Daemon | None = None

    def start(self, state: statefile.ClusterState, work: Path) -> None:
        kueuepeer.install_crds(state)
        self.daemon = kueuepeer.start(state, self.binary, work)

    def stop(self) -> None:
        # Not one of the control plane's own processes: `cluster.down` does not stop it.
        if self.daemon is not None:
            stop_daemon(self.daemon.record())
            self.daemon = None

    def setup(self, custom: client.CustomObjectsApi, quota: dict[str, int]) -> None:
        nominal = quotas(quota)
        specs = {q: {**s, "nominal": nominal[q]} for q, s in {**queues(), **pools()}.items()}
        for body in kueuepeer.quota_objects(specs, PRODUCTS, {q: q for q in queues()}):
            group, version = body["apiVersion"].split("/")
            plural = body["kind"].lower() + "s"
            namespace = body["metadata"].get("namespace")
            if namespace:
                custom.create_namespaced_custom_object(group, version, namespace, plural, body)
            else:
                custom.create_cluster_custom_object(group, version, plural, body)

    def submit(self, api: client.ApiClient, job: Job) -> None:
        template = _template(job, {"nvidia.com/gpu": str(job.gpus)})
        affinity = {
            "key": kueuepeer.FLAVOR_LABEL,
            "operator": "In",
            "values": [PRODUCTS[t] for t in job.types],
        }
        template["spec"]["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [affinity]}]
                }
            }
        }
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job.name, "labels": {"kueue.x-k8s.io/queue-name": job.queue}},
            "spec": {
                "suspend": True,
                "parallelism": job.replicas,
                "completions": job.replicas,
                "backoffLimit": 0,
                "template": template,
            },
        }
        client.BatchV1Api(api).create_namespaced_job(job.queue, body, _preload_content=False).read()

    def observe(self, api: client.ApiClient) -> dict[str, dict[str, Any]]:
        workloads = client.CustomObjectsApi(api).list_cluster_custom_object(
            "kueue.x-k8s.io", "v1beta2", "workloads"
        )["items"]
        admitted: dict[str, str | None] = {}
        preempted: set[str] = set()
        for item in workloads:
            owner = next(iter(item["metadata"].get("ownerReferences") or []), {}).get("name")
            reserved = next(
                (
                    c
                    for c in (item.get("status") or {}).get("conditions") or []
                    if c["type"] == "QuotaReserved" and c["status"] == "True"
                ),
                None,
            )
            if owner:
                admitted[owner] = reserved["lastTransitionTime"] if reserved else None
                conditions = (item.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Preempted" and c["status"] == "True" for c in conditions):
                    preempted.add(owner)
        listed = client.BatchV1Api(api).list_job_for_all_namespaces(_preload_content=False)
        seen: dict[str, dict[str, Any]] = {}
        for job in json.loads(listed.data)["items"]:
            status = job.get("status") or {}
            completions = int((job.get("spec") or {}).get("completions") or 1)
            seen[job["metadata"]["name"]] = {
                "admitted": admitted.get(job["metadata"]["name"]),
                "done": int(status.get("succeeded") or 0) >= completions,
                "preempted": job["metadata"]["name"] in preempted,
            }
        return seen


# The label naming a pod's job: Suanli's operator sets the first, the Job controller the others.
JOB_LABELS = ("suanli.dev/job", "batch.kubernetes.io/job-name", "job-name")


def node_types(api: client.ApiClient) -> dict[str, str]:
    """Each node's GPU type (the workload's names), to tell per type what runs."""
    listed = client.CoreV1Api(api).list_node(_preload_content=False)
    names = {product: name for name, product in PRODUCTS.items()}
    found = {}
    for node in json.loads(listed.data)["items"]:
        product = (node["metadata"].get("labels") or {}).get("nvidia.com/gpu.product")
        if product in names:
            found[node["metadata"]["name"]] = names[product]
    return found


def running_gpus(
    api: client.ApiClient, by_name: dict[str, Job], types: dict[str, str]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """GPUs of the Running pods per queue, counted the same way for both systems: from the
    pods themselves, not from either system's own status; and per queue and GPU type (from
    the node each pod runs on)."""
    listed = client.CoreV1Api(api).list_pod_for_all_namespaces(
        field_selector="status.phase=Running", _preload_content=False
    )
    running = dict.fromkeys(queues(), 0)
    by_type: dict[str, dict[str, int]] = {q: dict.fromkeys(PRODUCTS, 0) for q in queues()}
    for pod in json.loads(listed.data)["items"]:
        labels = pod["metadata"].get("labels") or {}
        name = next((labels[key] for key in JOB_LABELS if key in labels), None)
        job = by_name.get(name) if name else None
        if job is not None and pod["metadata"]["namespace"] == job.queue:
            running[job.queue] += job.gpus
            kind = types.get((pod.get("spec") or {}).get("nodeName") or "")
            if kind is not None:
                by_type[job.queue][kind] += job.gpus
    return running, by_type


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_one(
    system: Suanli | Kueue, node_count: int, jobs: list[Job], timeout: float
) -> dict[str, Any]:
    by_name = {j.name: j for j in jobs}
    gpus = fleet_gpus(node_count)
    capacity = sum(gpus.values())
    with tempfile.TemporaryDirectory(prefix=f"suanli-bench-q-{system.name}-") as tmp:
        state = cluster.up(cluster.UpOptions(state_dir=Path(tmp)))
        try:
            count = nodes.apply_fleet(
                Path(state.kubeconfig), scale_fleet(default_fleet(), node_count)
            )
            nodes.wait_nodes_ready(Path(state.kubeconfig), count, timeout=600)
            system.start(state, Path(tmp))
            api = api_client(Path(state.kubeconfig))
            for queue in queues():
                body: Any = {"metadata": {"name": queue}}
                client.CoreV1Api(api).create_namespace(body)
            system.setup(client.CustomObjectsApi(api), nominal(gpus))
            types = node_types(api)
            began = time.time()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda job: system.submit(api, job), jobs))
            submitted = time.time() - began
            samples: list[dict[str, Any]] = []
            seen: dict[str, dict[str, Any]] = {}
            while time.time() - began < timeout:
                seen = system.observe(api)
                now = time.time() - began
                running, by_type = running_gpus(api, by_name, types)
                waiting = {q: 0 for q in queues()}
                waiting_gpus = {q: 0 for q in queues()}
                held = {q: 0 for q in queues()}
                # GPUs of admitted jobs by the job's phase (Suanli only: Kueue's Jobs have none),
                # to tell where admitted jobs wait before their pods run.
                phases: dict[str, dict[str, int]] = {q: {} for q in queues()}
                for name, found in seen.items():
                    job = by_name.get(name)
                    if job is None:
                        continue
                    if not found["admitted"] and not found["done"]:
                        waiting[job.queue] += 1
                        waiting_gpus[job.queue] += job.gpus * job.replicas
                    elif not found["done"]:
                        held[job.queue] += job.gpus * job.replicas
                        phase = str(found.get("phase") or "none")
                        count = phases[job.queue].get(phase, 0)
                        phases[job.queue][phase] = count + job.gpus * job.replicas
                samples.append(
                    {
                        "t": round(now, 1),
                        "gpus": running,
                        "waiting": waiting,
                        "waiting_gpus": waiting_gpus,
                        "held": held,
                        "by_type": by_type,
                        "held_by_phase": phases,
                    }
                )
                if len(seen) == len(jobs) and all(f["done"] for f in seen.values()):
                    break
                time.sleep(SAMPLE_SECONDS)
        finally:
            system.stop()
            cluster.down(Path(tmp))
    cohort_gpus = sum(quotas(nominal(gpus))[f"{COHORTS[0]}-pool"].values())
    return summarise(system.name, jobs, seen, samples, began, submitted, capacity, cohort_gpus)


def backlogged(sample: dict[str, Any], cohort_gpus: int) -> bool:
    """Whether every queue had work waiting and could have used its fair share at this sample:
    the GPUs its admitted jobs hold and its waiting jobs ask for come to at least its weight's
    part of its cohort's GPUs. Fair sharing gives a queue its weight's part only while it asks
    for that much (what a queue does not use goes to the others), so only these samples
    measure the split: a queue whose last few jobs wait still "has work waiting", but no
    admission order can give it a half of the cohort that those jobs do not ask for, and
    counting those samples would charge a queue served by its weight for running out of work
    first."""
    weights = {q: spec["weight"] for q, spec in queues().items()}
    for cohort in COHORTS:
        members = [q for q in queues() if q.startswith(cohort)]
        weight_sum = sum(weights[q] for q in members)
        for q in members:
            asked = sample["held"][q] + sample["waiting_gpus"][q]
            if not sample["waiting"][q] or asked < cohort_gpus * weights[q] / weight_sum:
                return False
    return True


def split(counted: list[dict[str, Any]]) -> dict[str, Any]:
    """Each queue's GPU-seconds (from Running pods) over the samples counted, as a share of
    its cohort's, beside its fair share (its weight over its cohort's weights)."""
    used = {q: sum(s["gpus"][q] for s in counted) * SAMPLE_SECONDS for q in queues()}
    weights = {q: spec["weight"] for q, spec in queues().items()}
    shares = {}
    for cohort in COHORTS:
        members = [q for q in queues() if q.startswith(cohort)]
        cohort_used = sum(used[q] for q in members) or 1.0
        weight_sum = sum(weights[q] for q in members)
        for q in members:
            shares[q] = {
                "share": round(used[q] / cohort_used, 3),
                "fair": round(weights[q] / weight_sum, 3),
                "gpu_seconds": round(used[q]),
            }
    worst = max((abs(v["share"] - v["fair"]) for v in shares.values()), default=0.0)
    return {
        "seconds": round(len(counted) * SAMPLE_SECONDS),
        "shares": shares,
        "worst": round(worst, 3),
    }


def summarise(  # noqa: PLR0917 - one run's raw observations, all of them
    name: str,
    jobs: list[Job],
    seen: dict[str, dict[str, Any]],
    samples: list[dict[str, Any]],
    began: float,
    submitted: float,
    capacity: int,
    cohort_gpus: int,
) -> dict[str, Any]:
    admitted = sorted(_time(f["admitted"]) - began for f in seen.values() if f["admitted"])
    best = 0
    for index, start in enumerate(admitted):
        best = max(best, sum(1 for t in admitted[index:] if t < start + 60))
    done = all(f["done"] for f in seen.values()) and len(seen) == len(jobs)
    backlog = split([s for s in samples if backlogged(s, cohort_gpus)])
    waiting = split([s for s in samples if all(s["waiting"].values())])
    utilisation = [sum(s["gpus"].values()) / capacity for s in samples]
    return {
        "system": name,
        "jobs": len(jobs),
        "submit_s": round(submitted, 1),
        "admitted": len(admitted),
        # Jobs preempted at least once (as last seen: Kueue's condition may be cleared).
        "preempted": sum(1 for f in seen.values() if f.get("preempted")),
        "best_60s_admissions_per_s": round(best / 60, 2),
        "mean_admissions_per_s": round(len(admitted) / admitted[-1], 2) if admitted else None,
        "all_admitted_s": round(admitted[-1], 1) if len(admitted) == len(jobs) else None,
        "all_finished": done,
        "finished_s": round(samples[-1]["t"], 1) if done and samples else None,
        "contended_seconds": backlog["seconds"],
        "fair_share": backlog["shares"],
        "worst_share_error": backlog["worst"],
        "contended_seconds_all_waiting": waiting["seconds"],
        "fair_share_all_waiting": waiting["shares"],
        "worst_share_error_all_waiting": waiting["worst"],
        "mean_gpu_utilisation": round(sum(utilisation) / len(utilisation), 3)
        if utilisation
        else None,
        "timeline": [
            {"t": s["t"], "utilisation": round(sum(s["gpus"].values()) / capacity, 3)}
            for s in samples
        ],
        "samples": samples,
    }


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(9, 4))
    for result in results:
        points = result["timeline"]
        axes.plot(
            [p["t"] for p in points],
            [100 * p["utilisation"] for p in points],
            label=result["system"],
        )
    axes.set_xlabel("seconds since the first submission")
    axes.set_ylabel("fleet GPUs running (%)")
    axes.set_ylim(0, 100)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--jobs-per-queue", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--systems", default="suanli,kueue")
    parser.add_argument("--out", type=Path, default=Path("bench/results/queues.json"))
    args = parser.parse_args()
    jobs = workload(args.jobs_per_queue, nominal(fleet_gpus(args.nodes)))
    systems: list[Suanli | Kueue] = []
    for name in args.systems.split(","):
        if name == "suanli":
            systems.append(Suanli())
        elif name == "kueue":
            systems.append(Kueue(kueuepeer.build()))
    results = [run_one(system, args.nodes, jobs, args.timeout) for system in systems]
    keys = (
        "best_60s_admissions_per_s",
        "mean_admissions_per_s",
        "all_admitted_s",
        "finished_s",
        "worst_share_error",
        "worst_share_error_all_waiting",
        "mean_gpu_utilisation",
    )
    print(f"{'':28}" + "".join(f"{r['system']:>12}" for r in results))
    for key in keys:
        print(f"{key:28}" + "".join(f"{r[key]!s:>12}" for r in results))
    for result in results:
        print(
            f"\n{result['system']}: GPU share per queue while every queue asked for its fair "
            f"share ({result['contended_seconds']} s) and while every queue had a job waiting "
            f"({result['contended_seconds_all_waiting']} s)"
        )
        for queue, share in result["fair_share"].items():
            also = result["fair_share_all_waiting"][queue]["share"]
            print(
                f"  {queue:12} share {share['share']:.3f}  fair {share['fair']:.3f}  "
                f"(all waiting: {also:.3f})"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Every sample (per queue: GPUs running, by type, held by admitted jobs, jobs waiting), to
    # read where a share went; beside the summary, which stays small.
    raw = {r["system"]: r.pop("samples") for r in results}
    args.out.with_name(f"{args.out.stem}-samples.json").write_text(json.dumps(raw))
    machine = {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}
    args.out.write_text(
        json.dumps({"machine": machine, "nodes": args.nodes, "results": results}, indent=2)
    )
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
