"""Time on the real control plane: a job past its time limit is stopped with the reason; a
4 x 8-device gang behind a stream of 1-device jobs starts no later than its reservation while
small jobs backfill around it; every waiting job carries a start estimate."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import delete_namespace_and_wait, eventually, new_namespace, raw_pods

# The four Ascend 910B hosts of the demo fleet (8 NPUs each): the gang needs all of them.
POOL = "Ascend910B"
POOL_NODES = 4


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "time")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


def job(
    name: str,
    *,
    replicas: int = 1,
    count: int = 1,
    run: str | None = None,
    limit: str | None = None,
    priority: int = 0,
) -> dict[str, Any]:
    template: dict[str, Any] = {"spec": {"containers": [{"name": "main", "image": "busybox"}]}}
    if run is not None:
        template["metadata"] = {"annotations": {"suanli.dev/run-duration": run}}
    spec: dict[str, Any] = {
        "priority": priority,
        "tasks": [
            {
                "name": "work",
                "replicas": replicas,
                "accelerators": {"count": count, "types": [POOL]},
                "template": template,
            }
        ],
    }
    if replicas > 1:
        spec["gang"] = {"minMember": replicas, "timeoutSeconds": 120}
    if limit is not None:
        spec["runPolicy"] = {"timeLimit": limit}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def _custom(control_plane: ControlPlane) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(control_plane.core.api_client)


def submit(control_plane: ControlPlane, namespace: str, body: dict[str, Any]) -> None:
    _custom(control_plane).create_namespaced_custom_object(
        "suanli.dev", "v1alpha1", namespace, "computejobs", body, _preload_content=False
    ).read()


def jobs(control_plane: ControlPlane, namespace: str) -> dict[str, dict[str, Any]]:
    listed: Any = _custom(control_plane).list_namespaced_custom_object(
        "suanli.dev", "v1alpha1", namespace, "computejobs", _preload_content=False
    )
    return {j["metadata"]["name"]: j for j in json.loads(listed.data)["items"]}


def status(control_plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    return dict(jobs(control_plane, namespace)[name].get("status") or {})


def when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def condition(found: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in found.get("conditions") or [] if c["type"] == kind), None)


def test_a_job_past_its_time_limit_is_stopped_with_the_reason(
    control_plane: ControlPlane, namespace: str
) -> None:
    submit(control_plane, namespace, job("overrun", run="600s", limit="6s"))
    eventually(
        lambda: status(control_plane, namespace, "overrun").get("phase") == "Running",
        60,
        "the job runs",
    )
    started = when(status(control_plane, namespace, "overrun")["startTime"])
    final = eventually(
        lambda: (s := status(control_plane, namespace, "overrun")).get("phase") == "Failed" and s,
        60,
        "the job is stopped",
    )
    failed = condition(final, "Failed")
    assert failed is not None
    assert failed["reason"] == "TimeLimitExceeded"
    assert "time limit 6s (runPolicy.timeLimit)" in failed["message"]
    assert final["timeLimit"] == "6s"
    stopped = when(final["completionTime"])
    assert started is not None
    assert stopped is not None
    # Stopped once past the limit, not long after (the operator looks again at the limit).
    assert 6 <= (stopped - started).total_seconds() <= 20
    eventually(lambda: not raw_pods(control_plane.core, namespace), 60, "its pods deleted")
    events = control_plane.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=overrun"
    )
    assert "TimeLimitExceeded" in events


# The stream: fillers hold some NPUs with a limit, the gang arrives, then small jobs keep
# coming, every other one ending well before the gang's reserved start.
FILLERS = 4
FILLER_RUN, FILLER_LIMIT = "20s", "30s"
STREAM = 8
SLACK_SECONDS = 5.0  # pod creation, scheduling and KWOK's start, after the reserved moment


def test_a_big_gang_behind_a_stream_of_small_jobs_starts_by_its_reservation(
    control_plane: ControlPlane, namespace: str
) -> None:
    for index in range(FILLERS):
        submit(
            control_plane,
            namespace,
            job(f"filler-{index}", run=FILLER_RUN, limit=FILLER_LIMIT),
        )
    eventually(
        lambda: all(
            status(control_plane, namespace, f"filler-{i}").get("phase") == "Running"
            for i in range(FILLERS)
        ),
        60,
        "the fillers run",
    )
    submit(
        control_plane, namespace, job("gang", replicas=POOL_NODES, count=8, run="5s", limit="60s")
    )
    gang_created = dt.datetime.now(dt.UTC)
    reserved = eventually(
        lambda: when(status(control_plane, namespace, "gang").get("estimatedStartTime")),
        30,
        "the gang's reservation",
    )
    seen: dict[str, set[str]] = {"waiting": set(), "without estimate": set(), "behind": set()}
    stop = threading.Event()

    def watch() -> None:
        # Every job seen waiting must carry an estimate; remember who waited behind the gang.
        while not stop.is_set():
            for name, body in jobs(control_plane, namespace).items():
                found = body.get("status") or {}
                if found.get("phase") != "Queued":
                    continue
                seen["waiting"].add(name)
                if not found.get("estimatedStartTime"):
                    seen["without estimate"].add(name)
                admitted = condition(found, "Admitted")
                if admitted is not None and admitted["reason"] == "BehindReservation":
                    seen["behind"].add(name)
            time.sleep(0.3)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for index in range(STREAM):
            if index % 2 == 0:
                # Ends (by its limit) well before the gang's reserved start: may backfill.
                submit(control_plane, namespace, job(f"quick-{index}", run="2s", limit="4s"))
            else:
                # Runs far past the reservation: must not take the gang's room.
                submit(control_plane, namespace, job(f"long-{index}", run="300s", limit="10m"))
            time.sleep(1.5)
        gang = eventually(
            lambda: (s := status(control_plane, namespace, "gang")).get("startTime") and s,
            90,
            "the gang starts",
        )
    finally:
        stop.set()
        watcher.join()
    started = when(gang["startTime"])
    assert started is not None
    assert started <= reserved + dt.timedelta(seconds=SLACK_SECONDS), (started, reserved)
    everything = jobs(control_plane, namespace)
    backfilled = [
        name
        for name, body in everything.items()
        if name.startswith("quick-")
        and (began := when((body.get("status") or {}).get("startTime"))) is not None
        and gang_created < began < started
    ]
    assert backfilled, "no small job started while the gang waited"
    assert seen["behind"] & {f"long-{i}" for i in range(1, STREAM, 2)}, seen
    assert seen["waiting"] >= {"gang"}
    assert not seen["without estimate"], seen
    # No long job ran before the gang: each would have delayed it.
    story = _story(control_plane, namespace, everything)
    for name, body in everything.items():
        if name.startswith("long-"):
            began = when((body.get("status") or {}).get("startTime"))
            assert began is None or began >= started, (name, began, started, story)


def _story(
    control_plane: ControlPlane, namespace: str, everything: dict[str, dict[str, Any]]
) -> str:
    """What happened, for a failure's message: each job's phase, times and conditions, each
    pod's node and phase."""
    lines = []
    for name, body in sorted(everything.items()):
        found = body.get("status") or {}
        reasons = ",".join(f"{c['type']}={c['reason']}" for c in found.get("conditions") or [])
        lines.append(
            f"{name}: {found.get('phase')} start={found.get('startTime')} "
            f"end={found.get('completionTime')} {reasons}"
        )
    for pod in raw_pods(control_plane.core, namespace):
        annotations = pod["metadata"].get("annotations") or {}
        lines.append(
            f"pod {pod['metadata']['name']}: {pod['spec'].get('nodeName')} "
            f"{pod['status'].get('phase')} planned={annotations.get('suanli.dev/planned-node')}"
        )
    return "\n".join(lines)


def _plan(
    control_plane: ControlPlane, body: dict[str, Any], command: list[str], *args: str
) -> tuple[int, str]:
    path = Path(control_plane.state.state_dir) / f"plan-{body['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(body))
    result = subprocess.run(
        [*command, "plan", "-f", str(path), f"--kubeconfig={control_plane.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 3), result.stderr
    return result.returncode, result.stdout


def test_plan_answers_for_a_job_that_fits_one_that_fits_later_and_one_that_never_fits(
    control_plane: ControlPlane, namespace: str
) -> None:
    submit(control_plane, namespace, job("running", count=8, run="600s", limit="10m"))
    running = eventually(
        lambda: (s := status(control_plane, namespace, "running")).get("startTime") and s,
        60,
        "a job holds one Ascend node",
    )
    began = when(running["startTime"])
    assert began is not None
    ends = began + dt.timedelta(minutes=10)
    suanli = [sys.executable, "-m", "suanli"]

    code, out = _plan(control_plane, job("one-node", count=8, limit="2h"), suanli, "-o", "json")
    fits = json.loads(out)
    assert (code, fits["verdict"]) == (0, "FitsNow")
    assert len(fits["pods"]) == 1
    assert fits["pods"][0]["node"].startswith("ascend-cnn1-")
    assert set(fits["pods"][0]["breakdown"]) == {
        "accelerator",
        "hpc",
        "locality",
        "cost",
        "packing",
    }
    assert fits["price_per_hour"] > 0
    assert fits["cost_at_limit"] == pytest.approx(2 * fits["price_per_hour"], rel=1e-3)

    whole = job("whole-pool", replicas=POOL_NODES, count=8, limit="1h")
    code, out = _plan(control_plane, whole, suanli, "-o", "json")
    later = json.loads(out)
    assert (code, later["verdict"]) == (0, "FitsLater")
    assert f"{namespace}/running" in later["waits_for"]
    start = when(later["start"])
    assert start is not None
    assert abs((start - ends).total_seconds()) <= 2, (start, ends)

    # The same through kubectl's plugin, as a table.
    too_big = job("too-big", replicas=POOL_NODES + 1, count=8)
    code, out = _plan(control_plane, too_big, [str(Path(sys.executable).parent / "kubectl-suanli")])
    assert code == 3
    assert "never fits:" in out
    assert f"only {POOL_NODES} fit" in out
    # Read-only: nothing was created.
    assert set(jobs(control_plane, namespace)) == {"running"}


# More jobs than the exact estimates cover (100): the ones behind get the aggregated walk's.
LINE = 110


def test_every_waiting_job_has_an_estimate_even_behind_the_first_hundred(
    control_plane: ControlPlane, namespace: str
) -> None:
    # A gang holds the whole pool for its ten-minute limit; small gangs line up behind it.
    submit(control_plane, namespace, job("holder", replicas=POOL_NODES, count=8, limit="10m"))
    holder = eventually(
        lambda: (s := status(control_plane, namespace, "holder")).get("startTime") and s,
        60,
        "the holder runs",
    )
    # Gangs (of two one-device pods) wait as jobs, Queued, rather than as pods in the scheduler.
    for index in range(LINE):
        submit(control_plane, namespace, job(f"w-{index:03d}", replicas=2, limit="5m"))

    seen: dict[str, dict[str, Any]] = {}

    def estimated() -> dict[str, dict[str, Any]] | None:
        seen.clear()
        seen.update(
            (name, body.get("status") or {})
            for name, body in jobs(control_plane, namespace).items()
            if name.startswith("w-")
        )
        ready = len(seen) == LINE and all(
            s.get("phase") == "Queued" and s.get("estimatedStartTime") for s in seen.values()
        )
        return dict(seen) if ready else None

    try:
        found = eventually(estimated, 240, f"all {LINE} waiting jobs estimated")
    except AssertionError as error:
        missing = {
            n: (s.get("phase"), s.get("estimateBasis"))
            for n, s in sorted(seen.items())
            if not s.get("estimatedStartTime")
        }
        raise AssertionError(f"{error}; {len(seen)} jobs, without an estimate: {missing}") from None
    approximate = {n for n, s in found.items() if s["estimateBasis"].startswith("approximate")}
    assert len(approximate) >= LINE - 100, approximate
    assert all(not found[n].get("estimatedNodes") for n in approximate)
    assert all(found[n].get("estimatedNodes") for n in set(found) - approximate)
    # Nothing frees before the holder's limit: no estimate counts on room sooner.
    frees = when(holder["startTime"])
    assert frees is not None
    for name, waiting in found.items():
        start = when(waiting["estimatedStartTime"])
        assert start is not None
        assert start >= frees + dt.timedelta(minutes=10) - dt.timedelta(seconds=2), (name, waiting)


def test_a_job_without_run_times_is_estimated_from_its_queues_history(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = f"hist-{namespace}"
    queue = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeQueue",
        "metadata": {"name": name, "labels": {"test": namespace}},
        "spec": {"quotas": [{"resource": POOL, "nominal": 64}]},
    }
    custom = _custom(control_plane)
    custom.create_cluster_custom_object("suanli.dev", "v1alpha1", "computequeues", queue)
    try:
        # No time limit, no expected run time, no queue defaults: only history can tell.
        first = job("first", run="10s")
        first["spec"]["queue"] = name
        submit(control_plane, namespace, first)

        def history() -> dict[str, Any] | None:
            found: Any = custom.get_cluster_custom_object(
                "suanli.dev", "v1alpha1", "computequeues", name
            )
            return (found.get("status") or {}).get("runtimeHistory")

        counted = eventually(history, 120, "the first job's run time in the queue's history")
        assert counted["jobs"] == 1
        # Its pods ran 10 s; the job's start and completion are when the operator saw them.
        assert 5 <= counted["meanSeconds"] <= 60, counted
        hog = job("hog", replicas=POOL_NODES, count=8, run="300s")
        hog["spec"]["queue"] = name
        submit(control_plane, namespace, hog)
        eventually(
            lambda: status(control_plane, namespace, "hog").get("startTime"), 60, "the hog runs"
        )
        behind = job("behind", replicas=2)
        behind["spec"]["queue"] = name
        submit(control_plane, namespace, behind)
        waiting = eventually(
            lambda: (s := status(control_plane, namespace, "behind")).get("estimateBasis") and s,
            60,
            "the waiting job's estimate",
        )
        assert waiting["phase"] == "Queued", waiting
        assert waiting.get("estimatedStartTime"), waiting
        assert f"queue {name}'s history" in waiting["estimateBasis"], waiting
    finally:
        control_plane.kubectl("delete", "computequeues", name, "--wait=false")
