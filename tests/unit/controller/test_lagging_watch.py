"""A watch that lags behind the operator's own writes: news of a job older than a status write
of ours never brings back what that write took away (a preempted job seen holding its quota
again, its pods made again and its admission written back over the preemption)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from suanli.controller.service import JobController
from tests.unit.controller.test_quota_gate import _gang, _settle
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
    """Keeps each job as the apiserver would: every status patch merged in under a new
    resourceVersion, answered with the stored job, and kept in order for the watch."""

    def __init__(self) -> None:
        super().__init__()
        self.version = 1
        self.stored: dict[str, dict[str, Any]] = {}
        self.watch: list[dict[str, Any]] = []  # every stored state, in order, not yet shown

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        self.stored[body["metadata"]["name"]] = body
        return copy.deepcopy(body)

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        await super().patch_status(namespace, name, status)
        self.version += 1
        job = _merged(self.stored[name], {"status": status})
        job["metadata"] = {**job["metadata"], "resourceVersion": str(self.version)}
        self.stored[name] = job
        self.watch.append(copy.deepcopy(job))
        return copy.deepcopy(job)


def _show(controller: JobController, news: list[dict[str, Any]]) -> None:
    for body in news:
        controller.job_news("MODIFIED", body)


def test_a_preempted_job_stays_preempted_when_older_news_of_it_comes_after() -> None:
    async def scenario() -> tuple[VersionedStore, JobController, int]:
        store = VersionedStore()
        controller = _controller(store)
        controller.queues.put_queue(
            {
                "metadata": {"name": "research"},
                "spec": {"quotas": [{"resource": "H100", "nominal": 32}]},
            }
        )
        low = _gang("low", 0)
        low["spec"]["priority"] = 1
        controller.job_news("ADDED", store.create_job(low))
        await _settle(controller, store)
        for pod in list(store.pods.values()):
            controller.cache.put_pod(pod, pod["metadata"]["labels"]["suanli.dev/job"])
        # The watch has shown all but the last of the low job's writes so far.
        lagging = store.watch[-1:]
        _show(controller, store.watch[:-1])
        store.watch.clear()
        created = len(store.created)
        high = _gang("high", 2)
        high["spec"]["priority"] = 10
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
