"""Fault suite: ComputeJobs on the local control plane while its parts are killed and paused.

A fresh control plane with the demo fleet scaled to --nodes, Suanli's extender and operator as in
`suanli demo`; then --jobs ComputeJobs (bench/chaosjobs.py) submitted evenly over
--submit-seconds while, at seeded random moments, the extender, the operator and the
kube-scheduler that calls the extender are SIGKILLed and started again, and kube-apiserver is
SIGSTOPped for --pause-seconds (bench/chaosfaults.py). A pod watch checks every change on the way
(bench/chaoscount.py). Once every job has ended (or --settle-seconds after the last submission
and fault), it counts:

- lost jobs: submitted but not Succeeded (with the phase they are in);
- duplicated pods: two live pods for one slot of a job at once;
- pods bound twice: a pod seen on one node, then on another;
- stuck pods: live and unbound at the end, when every other job has finished;
- device overcommits: a GPU given to live pods beyond its capacity.

Prints a table, writes JSON, and exits 1 unless every count is 0.

    python bench/chaos.py [--jobs 500] [--submit-seconds 240] [--nodes 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from chaoscount import PodSeen, Tracker, Verdict, verdict
from chaosfaults import Fault, FaultKind, Injector, schedule
from chaosjobs import chaos_job
from kubernetes import client

from suanli.devcluster import cluster, components, nodes, statefile
from suanli.fleet import default_fleet, scale_fleet
from suanli.kube.client import api_client, raw_json
from suanli.kube.reflector import Reflector

NAMESPACE = "chaos"
GROUP, VERSION, PLURAL = "suanli.dev", "v1alpha1", "computejobs"


def _submit(custom: client.CustomObjectsApi, body: dict[str, Any], deadline: float) -> bool:
    """Create the job, retrying through faults; True once the apiserver holds it."""
    while time.monotonic() < deadline:
        try:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, PLURAL, body, _request_timeout=10
            )
            return True
        except client.ApiException as error:
            if error.status == 409:  # an earlier attempt got through before its answer was lost
                return True
            if error.status not in (429, 500, 503, 504):
                raise
        except Exception:  # the apiserver is paused or restarting: its answer never came
            pass
        time.sleep(1)
    return False


def _phases(custom: client.CustomObjectsApi) -> dict[str, str]:
    response = custom.list_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, _preload_content=False, _request_timeout=60
    )
    items = raw_json(response).get("items") or []
    return {
        str(job["metadata"]["name"]): str((job.get("status") or {}).get("phase") or "")
        for job in items
    }


class _Faults(threading.Thread):
    """Injects the scheduled faults at their moments, one after the other."""

    def __init__(self, injector: Injector, faults: list[Fault], began: float) -> None:
        super().__init__(name="faults", daemon=True)
        self.injector, self.faults, self.began = injector, faults, began
        self.done: list[dict[str, Any]] = []
        self.failed: list[str] = []

    def run(self) -> None:
        for fault in self.faults:
            wait = self.began + fault.at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            at = round(time.monotonic() - self.began, 1)
            try:
                self.done.append({"at_s": at, **self.injector.inject(fault.kind)})
            except Exception as error:  # recorded; a part that did not come back fails the run
                self.failed.append(f"{fault.kind.value} at {at} s: {error}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    jobs = [chaos_job(i, rng) for i in range(args.jobs)]
    counts = {
        FaultKind.EXTENDER: args.extender_faults,
        FaultKind.OPERATOR: args.operator_faults,
        FaultKind.SCHEDULER: args.scheduler_faults,
        FaultKind.APISERVER: args.apiserver_faults,
    }
    faults = schedule(counts, 10, args.submit_seconds + 30, args.seed, min_gap=12)
    with tempfile.TemporaryDirectory(prefix="suanli-bench-chaos-") as tmp:
        state_dir = Path(tmp)
        state = cluster.up(cluster.UpOptions(state_dir=state_dir))
        injector = Injector(state_dir, args.pause_seconds)
        try:
            count = nodes.apply_fleet(
                Path(state.kubeconfig), scale_fleet(default_fleet(), args.nodes)
            )
            nodes.wait_nodes_ready(Path(state.kubeconfig), count, timeout=600)
            state = components.start_suanli(state)
            components.kubectl(state, "create", "namespace", NAMESPACE)
            return _exercise(args, state, injector, jobs, faults)
        finally:
            injector.resume()
            cluster.down(state_dir)


def _exercise(
    args: argparse.Namespace,
    state: statefile.ClusterState,
    injector: Injector,
    jobs: list[dict[str, Any]],
    faults: list[Fault],
) -> dict[str, Any]:
    api = api_client(Path(state.kubeconfig))
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    tracker, lock = Tracker(), threading.Lock()

    def replace(items: list[dict[str, Any]]) -> None:
        with lock:
            tracker.relisted(items)

    def apply(kind: str, pod: dict[str, Any]) -> None:
        with lock:
            tracker.see(PodSeen.of(pod, gone=kind == "DELETED"))

    watch = Reflector(
        "pods", lambda **kw: core.list_namespaced_pod(NAMESPACE, **kw), replace, apply
    )
    watch.start()
    began = time.monotonic()
    injecting = _Faults(injector, faults, began)
    injecting.start()
    submitted: list[str] = []
    refused: list[str] = []
    for index, body in enumerate(jobs):
        due = began + args.submit_seconds * index / max(1, len(jobs))
        time.sleep(max(0.0, due - time.monotonic()))
        name = body["metadata"]["name"]
        ok = _submit(custom, body, time.monotonic() + 120)
        (submitted if ok else refused).append(name)
    submit_s = time.monotonic() - began
    injecting.join()
    settle_from = time.monotonic()
    deadline = min(settle_from + args.settle_seconds, began + args.timeout)
    phases: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            phases = _phases(custom)
        except Exception:  # a slow answer: look again
            time.sleep(2)
            continue
        if all(phases.get(name) in ("Succeeded", "Failed") for name in submitted):
            break
        time.sleep(3)
    ended_s = time.monotonic() - began
    watch.stop()
    # A fresh list settles whatever the watch may not have delivered yet.
    final = raw_json(core.list_namespaced_pod(NAMESPACE, _preload_content=False))
    with lock:
        tracker.relisted(list(final.get("items") or []))
        result = verdict(tracker, submitted, _phases(custom))
    return _report(
        args,
        result,
        injecting,
        submitted=submitted,
        refused=refused,
        submit_s=submit_s,
        ended_s=ended_s,
    )


def _report(
    args: argparse.Namespace,
    result: Verdict,
    injecting: _Faults,
    *,
    submitted: list[str],
    refused: list[str],
    submit_s: float,
    ended_s: float,
) -> dict[str, Any]:
    injected: dict[str, int] = {}
    for fault in injecting.done:
        injected[fault["kind"]] = injected.get(fault["kind"], 0) + 1
    return {
        "jobs": args.jobs,
        "nodes": args.nodes,
        "seed": args.seed,
        "submitted": len(submitted),
        "not_accepted_by_apiserver": refused,
        "submit_s": round(submit_s, 1),
        "all_ended_after_s": round(ended_s, 1),
        "faults_injected": injected,
        "faults": injecting.done,
        "faults_failed": injecting.failed,
        "counts": result.counts(),
        "slots_with_a_replacement_pod": result.recreated_slots,
        "details": {
            "lost": result.lost,
            "duplicated": result.duplicated,
            "bound_twice": result.bound_twice,
            "stuck": result.stuck,
            "overcommitted": result.overcommitted,
        },
        "clean": result.clean and not injecting.failed and not refused,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def _table(report: dict[str, Any]) -> str:
    rows = [
        ("jobs submitted", f"{report['submitted']} of {report['jobs']} in {report['submit_s']} s"),
        ("all ended after", f"{report['all_ended_after_s']} s"),
        *((f"faults: {kind}", str(n)) for kind, n in sorted(report["faults_injected"].items())),
        ("faults that failed", str(len(report["faults_failed"]))),
        *((name.replace("_", " "), str(n)) for name, n in report["counts"].items()),
        ("slots with a replacement pod", str(report["slots_with_a_replacement_pod"])),
        ("verdict", "clean" if report["clean"] else "NOT CLEAN"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--submit-seconds", type=float, default=240)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pause-seconds", type=float, default=30)
    for kind in FaultKind:
        parser.add_argument(f"--{kind.value}-faults", type=int, default=3)
    parser.add_argument("--settle-seconds", type=float, default=300)
    parser.add_argument("--timeout", type=float, default=1500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/chaos.json"))
    args = parser.parse_args()
    report = run(args)
    print(_table(report))
    for name, items in report["details"].items():
        for item in list(items)[:10]:
            print(f"  {name}: {item}" + (f" ({items[item]})" if isinstance(items, dict) else ""))
    for failure in report["faults_failed"]:
        print(f"  fault failed: {failure}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0 if report["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
