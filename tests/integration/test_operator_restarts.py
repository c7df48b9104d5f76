"""Restart safety and leader election: kill the operator at random moments, run two replicas."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.integration.conftest import OPERATOR_NAMESPACE, ControlPlane, Operator
from tests.integration.helpers import delete_namespace_and_wait, eventually, new_namespace, raw_pods

JOBS = 50
KILLS = 20


def _job(name: str, gang: bool) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": "work",
        "replicas": 2,
        "template": {
            "metadata": {"annotations": {"suanli.dev/run-duration": "4s"}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                    }
                ]
            },
        },
    }
    spec: dict[str, Any] = {"workload": "batch", "tasks": [task]}
    if gang:
        task["accelerators"] = {"count": 1, "types": ["L40S", "T4"]}
        spec["gang"] = {"minMember": 2, "timeoutSeconds": 120}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def _jobs(control_plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return list(
        json.loads(control_plane.kubectl("get", "computejobs", "-n", namespace, "-o", "json"))[
            "items"
        ]
    )


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "chaos")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


def test_killing_the_operator_twenty_times_loses_and_duplicates_nothing(
    control_plane: ControlPlane, operator: Operator, namespace: str
) -> None:
    custom = client.CustomObjectsApi(control_plane.core.api_client)
    names = [f"job-{i:02d}" for i in range(JOBS)]

    def submit() -> None:
        for index, name in enumerate(names):
            body = _job(name, gang=index % 5 == 0)
            custom.create_namespaced_custom_object(
                "suanli.dev", "v1alpha1", namespace, "computejobs", body, _preload_content=False
            ).read()
            time.sleep(0.2)

    submitter = threading.Thread(target=submit)
    submitter.start()
    chance = random.Random(7)
    try:
        for _ in range(KILLS):
            time.sleep(chance.uniform(0.2, 1.5))
            operator.kill()
            operator.start()
    finally:
        submitter.join()
        if operator.daemon is None:
            operator.start()

    def all_done() -> bool:
        jobs = _jobs(control_plane, namespace)
        return len(jobs) == JOBS and all(
            j.get("status", {}).get("phase") == "Succeeded" for j in jobs
        )

    try:
        eventually(all_done, 240, "every job Succeeded")
    except AssertionError:
        phases = Counter(j.get("status", {}).get("phase") for j in _jobs(control_plane, namespace))
        raise AssertionError(f"jobs not all Succeeded: {dict(phases)}") from None
    pods = raw_pods(control_plane.core, namespace)
    per_job = Counter(p["metadata"]["labels"]["suanli.dev/job"] for p in pods)
    assert per_job == dict.fromkeys(names, 2), "every job has exactly its two pods"
    owners = {j["metadata"]["uid"] for j in _jobs(control_plane, namespace)}
    assert all(p["metadata"]["ownerReferences"][0]["uid"] in owners for p in pods), (
        "no orphaned pod"
    )
    scheduled = json.loads(
        control_plane.kubectl(
            "get", "events", "-n", namespace, "--field-selector", "reason=Scheduled", "-o", "json"
        )
    )["items"]
    per_pod = Counter(e["involvedObject"]["uid"] for e in scheduled)
    assert len(per_pod) == JOBS * 2
    assert set(per_pod.values()) == {1}, "no pod was created (and scheduled) twice"
    assert operator.starts >= KILLS + 1


def _holder(control_plane: ControlPlane) -> str:
    lease = json.loads(
        control_plane.kubectl(
            "get", "lease", "suanli-operator", "-n", OPERATOR_NAMESPACE, "-o", "json"
        )
    )
    return str(lease["spec"].get("holderIdentity") or "")


def test_two_replicas_one_leader_and_failover(
    control_plane: ControlPlane, operator: Operator, namespace: str, session_dir: Any
) -> None:
    standby = Operator(control_plane, session_dir, identity="operator-standby")
    standby.start()
    try:
        eventually(lambda: _holder(control_plane) == operator.identity, 30, "first replica leads")
        time.sleep(3)
        assert _holder(control_plane) == operator.identity, "the standby must not take a held lease"
        operator.kill()
        began = time.monotonic()
        eventually(lambda: _holder(control_plane) == standby.identity, 60, "standby takes over")
        assert time.monotonic() - began < 40
        control_plane.kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            stdin=json.dumps(_job("after-failover", gang=False)),
        )
        eventually(
            lambda: (
                json.loads(
                    control_plane.kubectl(
                        "get", "computejob", "after-failover", "-n", namespace, "-o", "json"
                    )
                )
                .get("status", {})
                .get("phase")
                == "Succeeded"
            ),
            90,
            "a job submitted after failover runs",
        )
    finally:
        standby.stop()
        if operator.daemon is None:
            operator.start()
    # The standby released the lease on its clean stop: the first replica leads again at once.
    eventually(lambda: _holder(control_plane) == operator.identity, 30, "first replica leads again")


QUEUED_JOBS = 24
QUEUE_KILLS = 10


def test_killing_the_operator_during_queue_admissions_never_over_admits(
    control_plane: ControlPlane, operator: Operator, namespace: str
) -> None:
    queue = f"{namespace}-cpu"
    control_plane.kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "suanli.dev/v1alpha1",
                "kind": "ComputeQueue",
                "metadata": {"name": queue},
                "spec": {"quotas": [{"resource": "cpu", "nominal": 4}]},
            }
        ),
    )
    custom = client.CustomObjectsApi(control_plane.core.api_client)
    for index in range(QUEUED_JOBS):
        body = _job(f"q-{index:02d}", gang=False)
        body["spec"]["queue"] = queue
        custom.create_namespaced_custom_object(
            "suanli.dev", "v1alpha1", namespace, "computejobs", body, _preload_content=False
        ).read()
    worst = {"held": 0.0, "running": 0}
    stop = threading.Event()

    def watch() -> None:
        # Sampled throughout: quota held by unfinished jobs, and pods running, never above 4.
        while not stop.is_set():
            jobs = _jobs(control_plane, namespace)
            held = sum(
                c["amount"]
                for j in jobs
                if j.get("status", {}).get("phase") not in ("Succeeded", "Failed")
                for c in (j.get("status", {}).get("admission") or {}).get("charged", [])
                if c["resource"] == "cpu"
            )
            running = sum(
                1
                for p in raw_pods(control_plane.core, namespace)
                if p["status"].get("phase") == "Running"
            )
            worst["held"] = max(worst["held"], held)
            worst["running"] = max(worst["running"], running)
            time.sleep(0.3)

    watcher = threading.Thread(target=watch)
    watcher.start()
    chance = random.Random(11)
    try:
        for _ in range(QUEUE_KILLS):
            time.sleep(chance.uniform(0.3, 2.0))
            operator.kill()
            operator.start()

        def all_done() -> bool:
            jobs = _jobs(control_plane, namespace)
            return all(j.get("status", {}).get("phase") == "Succeeded" for j in jobs)

        eventually(all_done, 300, "every queued job Succeeded")
    finally:
        stop.set()
        watcher.join()
        if operator.daemon is None:
            operator.start()
        control_plane.kubectl("delete", "computequeue", queue, "--wait=false")
    assert worst["held"] <= 4, worst
    assert worst["running"] <= 4, worst
    per_job = Counter(
        p["metadata"]["labels"]["suanli.dev/job"] for p in raw_pods(control_plane.core, namespace)
    )
    assert per_job == {f"q-{i:02d}": 2 for i in range(QUEUED_JOBS)}, (
        "every job ran exactly its two pods"
    )
