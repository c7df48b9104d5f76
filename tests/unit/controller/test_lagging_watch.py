"""A watch that lags behind the operator's own writes: news of a job older than a status write
of ours never brings back what that write took away (a preempted job seen holding its quota
again, its pods made again and its admission written back over the preemption)."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any

import pytest

from suanli.controller.service import JobController
from tests.unit.controller.test_quota_gate import H100_QUEUE, NOW, _gang, _settle
from tests.unit.controller.test_service import FakeStore, _controller


def _merged(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386), as the apiserver applies one."""
    out = dict(into)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class VersionedStore(FakeStore):
    """Keeps jobs and queues as the apiserver would: every status patch merged in under a new
    resourceVersion and answered with the stored object; the jobs' states kept in order for
    the watch. Objects it was not given are patched as FakeStore does, with no answer."""

    def __init__(self) -> None:
        super().__init__()
        self.version = 1
        self.stored: dict[str, dict[str, Any]] = {}
        self.watch: list[dict[str, Any]] = []  # every stored state of a job, not yet shown

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """A job or a queue, as created: with its first resourceVersion."""
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        self.stored[body["metadata"]["name"]] = body
        return copy.deepcopy(body)

    def _patch(self, name: str, status: dict[str, Any]) -> dict[str, Any] | None:
        if name not in self.stored:
            return None
        self.version += 1
        stored = _merged(self.stored[name], {"status": status})
        stored["metadata"] = {**stored["metadata"], "resourceVersion": str(self.version)}
        self.stored[name] = stored
        return copy.deepcopy(stored)

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        await super().patch_status(namespace, name, status)
        stored = self._patch(name, status)
        if stored is not None:
            self.watch.append(copy.deepcopy(stored))
        return stored

    async def patch_queue_status(self, name: str, status: dict[str, Any]) -> dict[str, Any] | None:
        await super().patch_queue_status(name, status)
        return self._patch(name, status)


def _show(controller: JobController, news: list[dict[str, Any]]) -> None:
    for body in news:
        controller.job_news("MODIFIED", body)


def test_a_preempted_job_stays_preempted_when_older_news_of_it_comes_after() -> None:
    async def scenario() -> tuple[VersionedStore, JobController, int]:
        store = VersionedStore()
        controller = _controller(store)
        controller.queues.put_queue(H100_QUEUE)
        low = _gang("low", 0, priority=1)
        controller.job_news("ADDED", store.create_job(low))
        await _settle(controller, store)
        for pod in list(store.pods.values()):
            controller.cache.put_pod(pod, pod["metadata"]["labels"]["suanli.dev/job"])
        # The watch has shown all but the last of the low job's writes so far.
        lagging = store.watch[-1:]
        _show(controller, store.watch[:-1])
        store.watch.clear()
        created = len(store.created)
        high = _gang("high", 2, priority=10)
        controller.job_news("ADDED", store.create_job(high))
        await _settle(controller, store)
        assert any(c["type"] == "Preempted" for c in store.stored["low"]["status"]["conditions"])
        for name in store.deleted:  # the pod watch shows the low job's pods gone
            controller.cache.put_pod(store.pods.pop(name), "low", deleted=True)
        # Now the low job's last write before its preemption comes, is looked at, and then
        # everything after it comes.
        after = list(store.watch)
        _show(controller, lagging)
        await _settle(controller, store)
        _show(controller, after)
        await _settle(controller, store)
        return store, controller, created

    store, controller, created = asyncio.run(scenario())
    low = store.stored["low"]["status"]
    assert "admission" not in low
    assert low["phase"] == "Queued"
    assert any(c["type"] == "Preempted" for c in low["conditions"])
    assert "admission" not in controller.cache.jobs[("team", "low")]["status"]
    assert store.stored["high"]["status"]["admission"]["acceleratorTypes"] == ["H100"]
    # None of the low job's pods was made again.
    assert "low" not in {job for job, _ in store.created[created:]}


def _stamp(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_money_charged_to_a_queue_stays_charged_when_older_news_of_the_queue_comes_after() -> None:
    # Noon yesterday, in a 24 h period from midnight UTC, whatever the time the test runs at.
    at = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)

    async def scenario() -> tuple[VersionedStore, float]:
        store = VersionedStore()
        controller = _controller(store)
        queue = {
            "metadata": {"name": "research", "uid": "uid-research"},
            "spec": {
                "budget": {"spend": {"limit": 100000, "period": "24h"}},
                "quotas": [{"resource": "H100", "nominal": 64}],
            },
            "status": {
                "spend": {
                    "periodStart": _stamp(at.replace(hour=0)),
                    "spent": 900.0,
                    "pricePerHour": 60.0,
                    "accountedAt": _stamp(at - dt.timedelta(hours=1)),
                }
            },
        }
        before_the_charge = store.create_job(queue)
        controller.queues.put_queue(before_the_charge)
        running = _gang("running", 0)
        running["status"] = {
            "phase": "Running",
            "pricePerHour": 60.0,
            "admission": {
                "queue": "research",
                "acceleratorTypes": ["H100"],
                "charged": [{"resource": "H100", "amount": 32}],
                "admittedAt": _stamp(at - dt.timedelta(hours=1)),
            },
        }
        controller.cache.put_job(running)
        await controller.budgets.account(at)  # an hour at 60 USD/h: 960
        # The queue's watch, lagging, shows it as it was before the charge ...
        controller.queues.put_queue(before_the_charge)
        # ... and a quota cycle writes the queue's usage.
        key = controller.cache.put_job(_gang("next", 5))
        await controller.reconcile(key)
        charged_then = float(store.stored["research"]["status"]["spend"]["spent"])
        await controller.budgets.account(at + dt.timedelta(minutes=10))
        return store, charged_then

    store, charged_then = asyncio.run(scenario())
    assert charged_then == pytest.approx(960.0, abs=0.1)
    # Ten minutes more at 60 USD/h on top of the 960 already charged.
    assert store.stored["research"]["status"]["spend"]["spent"] == pytest.approx(970.0, abs=0.1)
