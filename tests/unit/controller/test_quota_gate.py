"""ComputeQueues in the reconcile loop: admission recorded before pods, fallback to the next
accepted type's quota, waiting with reason and position, quota released by finished jobs."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
from typing import Any

import pytest

from suanli.controller.queues import QueueBoard
from suanli.controller.quota_gate import queue_averages
from suanli.controller.service import JobController
from tests.unit.controller.conftest import example
from tests.unit.controller.test_service import FakeStore, _controller

NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
QUEUE = {
    "metadata": {"name": "research"},
    "spec": {
        "quotas": [
            {"resource": "H100", "nominal": 32},
            {"resource": "A100", "nominal": 32},
            {"resource": "cpu", "nominal": 1024},
        ]
    },
}


# Room for one training gang (4 x 8 H100) at a time.
H100_QUEUE = {
    "metadata": {"name": "research"},
    "spec": {"quotas": [{"resource": "H100", "nominal": 32}]},
}


def _gang(name: str, second: int, priority: int | None = None) -> dict[str, Any]:
    job, meta = example("training-gang.yaml", queue="research")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    if priority is not None:
        body["spec"]["priority"] = priority
    body["metadata"] = {
        **copy.deepcopy(meta),
        "name": name,
        "uid": f"uid-{name}",
        # Just now, one second apart: queue order follows creation.
        "creationTimestamp": (NOW + dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return body


async def _settle(controller: JobController, store: FakeStore) -> None:
    worker = asyncio.ensure_future(controller.worker())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if controller.idle():
            break
    await asyncio.sleep(0.05)
    worker.cancel()


def _reason(status: dict[str, Any]) -> tuple[str, str]:
    condition = next(c for c in status["conditions"] if c["type"] == "QuotaReserved")
    return condition["status"], condition["reason"]


def test_queue_admits_by_type_preference_and_the_rest_waits_with_its_place() -> None:
    async def scenario() -> tuple[FakeStore, JobController]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(QUEUE)
        for index, name in enumerate(("first", "second", "third")):
            controller.enqueue(controller.cache.put_job(_gang(name, index)))
        await _settle(controller, store)
        return store, controller

    store, controller = asyncio.run(scenario())
    first, second, third = (
        controller.cache.jobs[("team", n)]["status"] for n in ("first", "second", "third")
    )
    assert first["admission"]["acceleratorTypes"] == ["H100"]
    assert {c["resource"]: c["amount"] for c in first["admission"]["charged"]} == {
        "H100": 32,
        "cpu": 256,
    }
    # H100 quota used up: the second takes the A100 quota, and its pods may use A100 only.
    assert second["admission"]["acceleratorTypes"] == ["A100"]
    demands = [
        json.loads(p["metadata"]["annotations"]["suanli.dev/demand"])
        for p in store.pods.values()
        if p["metadata"]["labels"]["suanli.dev/job"] == "second"
    ]
    assert demands
    assert all(d["acceleratorTypes"] == ["A100"] for d in demands)
    assert third["phase"] == "Queued"
    assert third["queue"] == "research"
    assert third["queuePosition"] == 1
    assert _reason(third) == ("False", "QuotaExhausted")
    assert "admission" not in third
    assert not [
        p for p in store.pods.values() if p["metadata"]["labels"]["suanli.dev/job"] == "third"
    ]
    queue = store.queue_statuses["research"]
    assert (queue["admitted"], queue["pending"]) == (2, 1)
    assert queue["summary"] == "H100 32/32, A100 32/32, cpu 512/1024"


def test_a_finished_job_releases_its_quota_to_the_next() -> None:
    async def scenario() -> dict[str, Any]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(
            {
                "metadata": {"name": "research"},
                "spec": {"quotas": [{"resource": "H100", "nominal": 32}]},
            }
        )
        for index, name in enumerate(("first", "second")):
            controller.enqueue(controller.cache.put_job(_gang(name, index)))
        await _settle(controller, store)
        waiting = controller.cache.jobs[("team", "second")]["status"]
        assert _reason(waiting) == ("False", "QuotaExhausted")
        controller.cache.jobs[("team", "first")]["status"]["phase"] = "Succeeded"
        controller.enqueue_waiting()
        await _settle(controller, store)
        return controller.cache.jobs[("team", "second")]["status"]

    status = asyncio.run(scenario())
    assert _reason(status) == ("True", "QuotaReserved")
    assert status["admission"]["acceleratorTypes"] == ["H100"]


def test_a_job_naming_a_missing_queue_waits_and_says_so() -> None:
    async def scenario() -> dict[str, Any]:
        store = FakeStore()
        controller = _controller(store)
        controller.enqueue(controller.cache.put_job(_gang("lost", 0)))
        await _settle(controller, store)
        return controller.cache.jobs[("team", "lost")]["status"]

    status = asyncio.run(scenario())
    assert status["phase"] == "Queued"
    assert _reason(status) == ("False", "QueueNotFound")
    assert "no ComputeQueue named research" in next(
        c["message"] for c in status["conditions"] if c["type"] == "QuotaReserved"
    )


def test_a_higher_priority_job_preempts_a_whole_lower_one_which_waits_again() -> None:
    async def scenario() -> tuple[FakeStore, JobController]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(H100_QUEUE)
        low = _gang("low", 0, priority=1)
        controller.enqueue(controller.cache.put_job(low))
        await _settle(controller, store)
        # What the pod watch would report: the low job's pods exist.
        for pod in list(store.pods.values()):
            controller.cache.put_pod(pod, pod["metadata"]["labels"]["suanli.dev/job"])
        high = _gang("high", 2, priority=10)
        controller.enqueue(controller.cache.put_job(high))
        await _settle(controller, store)
        return store, controller

    store, controller = asyncio.run(scenario())
    low = controller.cache.jobs[("team", "low")]["status"]
    high = controller.cache.jobs[("team", "high")]["status"]
    assert high["admission"]["acceleratorTypes"] == ["H100"]
    assert "admission" not in low
    assert low["phase"] == "Queued"
    preempted = next(c for c in low["conditions"] if c["type"] == "Preempted")
    assert preempted["reason"] == "InQueuePriority"
    assert "preempted by team/high" in preempted["message"]
    # The whole gang goes, not part of it.
    assert sorted(store.deleted) == sorted(f"low-worker-{i}" for i in range(4))


def test_a_queue_status_averages_past_usage_at_most_every_thirty_seconds() -> None:
    hour_ago = (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {
        "usage": [{"resource": "H100", "nominal": 8, "used": 8, "borrowed": 0}],
        "averageUsage": [{"resource": "H100", "amount": 0}],
        "averagedAt": hour_ago,
    }
    updated = queue_averages(before, 1.0, NOW)
    # One half-life (to the second: timestamps are written without fractions).
    assert updated["averageUsage"][0]["amount"] == pytest.approx(4.0, abs=0.01)
    assert updated["averagedAt"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = {
        **before,
        "averagedAt": (NOW - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert queue_averages(recent, 1.0, NOW)["averageUsage"] == before["averageUsage"]


def test_the_budget_keeper_charges_what_runs_and_stops_jobs_when_the_money_runs_out() -> None:
    # Noon yesterday: the 24 h budget period (from midnight UTC) holds the hour before it and
    # the 40 minutes after it, whatever the time of day the test runs at.
    at = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)

    async def scenario() -> tuple[FakeStore, JobController]:
        store = FakeStore()
        controller = _controller(store)
        stamp = (at - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        period = at.replace(hour=0, minute=0, second=0, microsecond=0).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        controller.queues.put_queue(
            {
                "metadata": {"name": "research"},
                "spec": {
                    "budget": {"spend": {"limit": 1000, "period": "24h"}},
                    "quotas": [{"resource": "H100", "nominal": 64}],
                },
                "status": {
                    "spend": {
                        "periodStart": period,
                        "spent": 900.0,
                        "pricePerHour": 60.0,
                        "accountedAt": stamp,
                    }
                },
            }
        )
        for name, priority in (("keep", 5), ("stop", 1)):
            body = _gang(name, priority, priority=priority)
            body["status"] = {
                "phase": "Running",
                "pricePerHour": 30.0,
                "admission": {
                    "queue": "research",
                    "acceleratorTypes": ["H100"],
                    "charged": [{"resource": "H100", "amount": 32}],
                    "admittedAt": stamp,
                },
            }
            controller.cache.put_job(body)
        await controller.budgets.account(at)
        return store, controller

    store, controller = asyncio.run(scenario())
    spend = store.queue_statuses["research"]["spend"]
    # An hour at 60 USD/h: 960 of 1000 spent, and 60/h for the next 30 s fits: nothing stops.
    assert spend["spent"] == pytest.approx(960.0, abs=0.1)
    assert not store.deleted

    async def later() -> None:
        # 39.6 minutes more at 60 USD/h: 999.6 spent. Both jobs for another 30 s would pass
        # 1000; one of them would not: the lower-priority one stops, the other runs on.
        await controller.budgets.account(at + dt.timedelta(seconds=2376))

    asyncio.run(later())
    stopped = controller.cache.jobs[("team", "stop")]["status"]
    assert stopped["phase"] == "Queued"
    assert (
        next(c for c in stopped["conditions"] if c["type"] == "Preempted")["reason"]
        == "BudgetExhausted"
    )
    assert "admission" in controller.cache.jobs[("team", "keep")]["status"]


def test_a_priority_class_orders_the_job_and_a_missing_one_is_named() -> None:
    async def scenario() -> JobController:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_priority_class({"metadata": {"name": "urgent"}, "value": 100})
        controller.queues.put_queue(
            {
                "metadata": {"name": "research"},
                "spec": {"quotas": [{"resource": "H100", "nominal": 32}]},
            }
        )
        for name, spec in (
            ("plain", {"priority": 50}),
            ("classy", {"priorityClassName": "urgent"}),
            ("lost", {"priorityClassName": "nowhere"}),
        ):
            body = _gang(name, 0)
            body["spec"].pop("priority", None)
            body["spec"].update(spec)
            controller.cache.put_job(body)
        for name in ("plain", "classy", "lost"):
            controller.enqueue(("team", name))
        await _settle(controller, store)
        return controller

    controller = asyncio.run(scenario())
    jobs = {n: controller.cache.jobs[("team", n)]["status"] for n in ("plain", "classy", "lost")}
    # Created at the same second, the class's 100 goes before the plain 50.
    assert jobs["classy"]["admission"]["acceleratorTypes"] == ["H100"]
    assert _reason(jobs["plain"]) == ("False", "QuotaExhausted")
    assert _reason(jobs["lost"]) == ("False", "PriorityClassNotFound")


def test_a_job_over_its_queues_maximum_time_limit_waits_naming_the_field() -> None:
    async def scenario() -> dict[str, Any]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(
            {
                "metadata": {"name": "research"},
                "spec": {**QUEUE["spec"], "runtime": {"maxTimeLimit": "8h"}},
            }
        )
        long = _gang("long", 0)
        long["spec"]["runPolicy"] = {"timeLimit": "9h"}
        short = _gang("short", 1)
        controller.enqueue(controller.cache.put_job(long))
        controller.enqueue(controller.cache.put_job(short))
        await _settle(controller, store)
        return {n: controller.cache.jobs[("team", n)]["status"] for n in ("long", "short")}

    statuses = asyncio.run(scenario())
    long, short = statuses["long"], statuses["short"]
    assert long["phase"] == "Queued"
    assert _reason(long) == ("False", "TimeLimitTooLong")
    message = next(c for c in long["conditions"] if c["type"] == "QuotaReserved")["message"]
    assert "spec.runPolicy.timeLimit 9h" in message
    assert "spec.runtime.maxTimeLimit" in message
    assert "admission" not in long
    # A job that sets no limit runs under the queue's maximum, shown in its status.
    assert short["admission"]["queue"] == "research"
    assert short["timeLimit"] == "8h"


class _OrderedStore(FakeStore):
    """Records, per job, whether its admission was in its status when each pod was created."""

    def __init__(self) -> None:
        super().__init__()
        self.admitted_at_creation: list[bool] = []

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        job = manifest["metadata"]["labels"]["suanli.dev/job"]
        self.admitted_at_creation.append("admission" in self.statuses.get(job, {}))
        return await super().create_pod(namespace, manifest)


def test_a_jobs_own_admission_is_written_before_its_first_pod_is_created() -> None:
    async def scenario() -> _OrderedStore:
        store = _OrderedStore()
        controller = _controller(store)
        controller.queues.put_queue(QUEUE)
        controller.enqueue(controller.cache.put_job(_gang("only", 0)))
        await _settle(controller, store)
        return store

    store = asyncio.run(scenario())
    assert store.admitted_at_creation
    assert all(store.admitted_at_creation), store.admitted_at_creation


def test_a_decision_made_before_a_preemption_never_writes_the_admission_back() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], frozenset[tuple[str, str]]]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(QUEUE)
        key = controller.cache.put_job(_gang("low", 0))
        await controller.reconcile(key)
        assert "admission" in store.statuses["low"]
        # The job's next decision is made (it still holds its quota) ...
        async with controller._deciding:
            decided = await controller._decide(key)
            seen = controller._overruled.get(key, 0)
        assert decided is not None
        # ... and before it is applied, another job's decision preempts it.
        holder = controller.queues.holder(key, controller.cache.jobs[key])
        assert holder is not None
        await controller.gate.preempt(holder, "InQueuePriority", "preempted by team/high", NOW)
        preempted = copy.deepcopy(store.statuses["low"])
        await controller._apply(*decided, overruled=seen)
        return store.statuses["low"], preempted, controller.waiting()

    final, preempted, waiting = asyncio.run(scenario())
    # The preemption stays the last word: no admission written back over it.
    assert final == preempted
    assert final["admission"] is None
    assert ("team", "low") in waiting  # looked at again, from what the preemption left


def test_a_queue_spec_is_read_again_only_when_it_changes() -> None:
    board = QueueBoard()
    board.put_queue({**H100_QUEUE, "metadata": {"name": "research", "resourceVersion": "1"}})
    read = board.specs["research"]
    echo = {**H100_QUEUE, "metadata": {"name": "research", "resourceVersion": "2"}}
    board.put_queue({**echo, "status": {"pending": 1}})  # a status write's echo
    assert board.specs["research"] is read
    assert board.bodies["research"]["status"] == {"pending": 1}
    bigger = {"quotas": [{"resource": "H100", "nominal": 64}]}
    board.put_queue(
        {**echo, "metadata": {"name": "research", "resourceVersion": "3"}, "spec": bigger}
    )
    assert board.specs["research"].quotas[0].nominal == 64
    board.put_queue({**echo, "spec": {"quotas": "none"}}, deleted=True)
    assert "research" not in board.specs
    assert "research" not in board.bodies
