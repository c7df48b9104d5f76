"""Backfill in the reconcile loop: a gang that does not fit gets a reservation and an estimate;
jobs behind it start only when they do not delay it, and the ones that wait say why."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from suanli.controller.service import JobController
from tests.unit.controller.test_quota_gate import _settle
from tests.unit.controller.test_service import FakeStore, _controller

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ASCEND = [f"ascend-cnn1-{i}" for i in range(4)]


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(name: str, replicas: int, count: int, second: int, **run: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "tasks": [
            {
                "name": "w",
                "replicas": replicas,
                "accelerators": {"count": count, "types": ["Ascend910B"]},
                "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
            }
        ],
        "runPolicy": run,
    }
    if replicas > 1:
        spec["gang"] = {"minMember": replicas}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": _stamp(NOW + dt.timedelta(seconds=second)),
        },
        "spec": spec,
    }


def _running(controller: JobController, name: str, node: str, limit: str) -> None:
    """A job running one pod of 8 devices on `node` since NOW, under `limit`."""
    body = _job(name, 1, 8, -60, timeLimit=limit)
    body["status"] = {"phase": "Running", "startTime": _stamp(NOW)}
    controller.cache.put_job(body)
    pod = {
        "metadata": {
            "name": f"{name}-w-0",
            "namespace": "team",
            "labels": {"suanli.dev/job": name, "suanli.dev/task": "w"},
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "resources": {"limits": {"huawei.com/Ascend910": "8"}}}],
        },
        "status": {"phase": "Running", "startTime": _stamp(NOW)},
    }
    controller.cache.put_pod(pod, name)
    controller.cluster.apply_pod("ADDED", pod)


def test_a_gang_gets_a_reservation_and_only_jobs_that_do_not_delay_it_start() -> None:
    async def scenario() -> tuple[FakeStore, dict[str, dict[str, Any]]]:
        store = FakeStore()
        controller = _controller(store)
        _running(controller, "busy", ASCEND[0], "10m")
        controller.enqueue(controller.cache.put_job(_job("gang", 4, 8, 0, timeLimit="1h")))
        await _settle(controller, store)
        # Behind the gang: one without a limit, one ending before the reservation.
        controller.enqueue(controller.cache.put_job(_job("endless", 1, 1, 1)))
        controller.enqueue(controller.cache.put_job(_job("quick", 1, 1, 2, timeLimit="5m")))
        await _settle(controller, store)
        names = ("gang", "endless", "quick")
        return store, {n: controller.cache.jobs[("team", n)]["status"] for n in names}

    store, statuses = asyncio.run(scenario())
    gang, endless, quick = statuses["gang"], statuses["endless"], statuses["quick"]
    assert gang["phase"] == "Queued"
    start = dt.datetime.fromisoformat(gang["estimatedStartTime"].replace("Z", "+00:00"))
    assert start == NOW + dt.timedelta(minutes=10)
    assert gang["estimatedNodes"] == ASCEND
    assert "team/busy" in gang["estimateBasis"]
    assert "reserved" in gang["estimateBasis"]

    assert endless["phase"] == "Queued"
    admitted = next(c for c in endless["conditions"] if c["type"] == "Admitted")
    assert admitted["reason"] == "BehindReservation"
    assert "team/gang is reserved to start at" in admitted["message"]
    assert "estimatedStartTime" in endless
    assert not [n for j, n in store.created if j == "endless"]

    assert [n for j, n in store.created if j == "quick"] == ["quick-w-0"]
    planned = store.pods["quick-w-0"]["metadata"]["annotations"]["suanli.dev/planned-node"]
    assert planned in ASCEND[1:]
    assert quick["phase"] != "Queued"


def test_a_job_started_while_a_gang_is_placed_leaves_the_gangs_planned_room_alone() -> None:
    async def scenario() -> tuple[FakeStore, dict[str, Any]]:
        store = FakeStore()
        controller = _controller(store)
        # The gang is admitted onto the whole pool; its pods are planned, not bound yet.
        controller.enqueue(controller.cache.put_job(_job("gang", 4, 8, 0, timeLimit="1h")))
        await _settle(controller, store)
        controller.enqueue(controller.cache.put_job(_job("small", 1, 1, 1)))
        await _settle(controller, store)
        return store, controller.cache.jobs[("team", "small")]["status"]

    store, small = asyncio.run(scenario())
    planned = {
        p["metadata"]["annotations"].get("suanli.dev/planned-node")
        for p in store.pods.values()
        if p["metadata"]["labels"]["suanli.dev/job"] == "gang"
    }
    assert planned == set(ASCEND)
    assert not [n for j, n in store.created if j == "small"]
    assert small["phase"] == "Queued"
    admitted = next(c for c in small["conditions"] if c["type"] == "Admitted")
    assert admitted["reason"] == "Unschedulable"


def test_a_job_waiting_for_quota_is_estimated_from_when_its_queue_has_room() -> None:
    async def scenario() -> dict[str, Any]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(
            {
                "metadata": {"name": "npu"},
                "spec": {"quotas": [{"resource": "Ascend910B", "nominal": 8}]},
            }
        )
        _running(controller, "busy", ASCEND[0], "10m")
        busy = controller.cache.jobs[("team", "busy")]
        busy["spec"]["queue"] = "npu"
        busy["status"]["queue"] = "npu"
        busy["status"]["admission"] = {
            "queue": "npu",
            "acceleratorTypes": ["Ascend910B"],
            "charged": [{"resource": "Ascend910B", "amount": 8}],
            "admittedAt": _stamp(NOW),
        }
        waiting = _job("next", 1, 8, 0, timeLimit="1h")
        waiting["spec"]["queue"] = "npu"
        controller.enqueue(controller.cache.put_job(waiting))
        await _settle(controller, store)
        return controller.cache.jobs[("team", "next")]["status"]

    status = asyncio.run(scenario())
    assert status["phase"] == "Queued"
    reserved = next(c for c in status["conditions"] if c["type"] == "QuotaReserved")
    assert reserved["reason"] == "QuotaExhausted"
    start = dt.datetime.fromisoformat(status["estimatedStartTime"].replace("Z", "+00:00"))
    assert start == NOW + dt.timedelta(minutes=10)
    assert (
        "waits for quota first (QuotaExhausted): queue npu has room once team/busy end"
        in (status["estimateBasis"])
    )


def test_a_job_that_just_started_waiting_is_estimated_before_older_estimates_are_renewed() -> None:
    async def scenario() -> JobController:
        store = FakeStore()
        controller = _controller(store)
        _running(controller, "busy", ASCEND[0], "10m")
        controller.enqueue(controller.cache.put_job(_job("gang", 4, 8, 0, timeLimit="1h")))
        for index in range(6):
            controller.enqueue(controller.cache.put_job(_job(f"held-{index}", 1, 1, 1 + index)))
        await _settle(controller, store)
        return controller

    controller = asyncio.run(scenario())
    now = dt.datetime.now(dt.UTC)
    made = controller.time._made
    assert len(made) == 7  # the gang and the six held behind it
    # Every estimate is old now; one more job starts waiting at the back of the line.
    long_ago = now - dt.timedelta(hours=1)
    controller.time._made = {job: (estimate, long_ago) for job, (estimate, _) in made.items()}
    late = _job("late", 1, 1, 60)
    late["status"] = {"phase": "Queued"}
    controller.cache.put_job(late)
    found, _, _ = controller.time.estimates(now)
    assert found["team/late"].start is not None
    renewed = [job for job, (_, at) in controller.time._made.items() if at == now]
    assert "team/late" in renewed
    assert len(renewed) == 4  # the budget of one call


def test_every_waiting_gang_is_estimated_and_a_pending_one_is_looked_at_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three exact estimates, one made per reconcile: the other gangs get the aggregated walk's.
    monkeypatch.setattr("suanli.controller.timekeeper.EXACT_ESTIMATES", 3)
    monkeypatch.setattr("suanli.controller.timekeeper.ESTIMATES_PER_CALL", 1)
    names = [f"g-{index}" for index in range(8)]

    async def scenario() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        store = FakeStore()
        controller = _controller(store)
        for index, node in enumerate(ASCEND):
            _running(controller, f"busy-{index}", node, "10m")
        for index, name in enumerate(names):
            controller.cache.put_job(_job(name, 2, 8, index, timeLimit="30m"))
        # The front of the line is reconciled back to front: its estimates are made one a call,
        # in line order, so the first reconciled finds its own estimate pending.
        for index in (2, 1, 0, 3, 4, 5, 6, 7):
            controller.enqueue(("team", names[index]))
        await _settle(controller, store)
        first = {n: dict(controller.cache.jobs[("team", n)]["status"]) for n in names}
        pending = [n for n, s in first.items() if s["estimateBasis"].startswith("estimate pending")]
        assert pending, {n: s["estimateBasis"] for n, s in first.items()}
        assert all(("team", n) in controller._timers for n in pending)
        await asyncio.sleep(2.5)
        await _settle(controller, store)
        return first, {n: controller.cache.jobs[("team", n)]["status"] for n in names}

    _, final = asyncio.run(scenario())
    assert all(s["phase"] == "Queued" and s.get("estimatedStartTime") for s in final.values()), {
        n: (s["phase"], s.get("estimateBasis")) for n, s in final.items()
    }
    front, back = names[:3], names[3:]
    assert all(final[n].get("estimatedNodes") for n in front)
    assert all(final[n]["estimateBasis"].startswith("approximate") for n in back)
    assert all(not final[n].get("estimatedNodes") for n in back)
