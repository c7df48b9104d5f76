"""A queue's history of succeeded jobs' run times: counted once per job that succeeds, kept in
the queue's status (so a restart reads it back), and what estimates count on for jobs that set
no run time in a queue without runtime defaults."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any

from suanli.api.durations import text
from suanli.controller.queues import QueueBoard
from suanli.controller.service import JobController
from suanli.fleet import default_fleet, node_manifests
from suanli.metrics import OperatorMetrics
from suanli.state import ClusterFeed
from tests.unit.controller.conftest import example
from tests.unit.controller.test_quota_gate import _settle
from tests.unit.controller.test_service import FILES, FakeStore, _no_event

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
STARTED = NOW - dt.timedelta(minutes=12)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _queue(history: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "research"},
        "spec": {"quotas": [{"resource": "cpu", "nominal": 1024}]},
    }
    if history is not None:
        body["status"] = {"runtimeHistory": history}
    return body


def _history(jobs: int, mean: float) -> dict[str, Any]:
    return {"jobs": jobs, "meanSeconds": mean, "lastFinished": "2026-12-01T11:00:00Z"}


def _job_body(name: str) -> dict[str, Any]:
    job, meta = example("batch-cpu.yaml", queue="research")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["spec"]["tasks"][0]["replicas"] = 1
    body["spec"]["runPolicy"] = {}
    body["metadata"] = {**copy.deepcopy(meta), "name": name, "uid": f"uid-{name}"}
    return body


def test_the_board_reads_the_history_from_the_queue_status_and_counts_new_runs() -> None:
    board = QueueBoard()
    board.put_queue(_queue(_history(4, 600.0)))
    job = board.job_of(_job_body("next"))
    assert job is not None
    limits = board.limits(job, "team")
    assert limits.time_limit is None
    assert limits.expected == 600
    assert "queue research's history: mean run time 10m of its 4 succeeded jobs" in (
        limits.expected_source
    )
    written = board.record_run("research", NOW - dt.timedelta(minutes=20), NOW)
    assert written is not None
    assert (written["jobs"], written["meanSeconds"]) == (5, 720.0)
    # The cached queue status carries it, so queue status writes keep it.
    assert board.bodies["research"]["status"]["runtimeHistory"] == written
    # A watch event older than this process's own write does not take the count back.
    board.put_queue(_queue(_history(4, 600.0)))
    assert board.histories["research"].jobs == 5
    # A newer one (another writer, or this one's write coming back) is taken.
    board.put_queue(_queue(_history(6, 700.0)))
    assert board.histories["research"].mean_seconds == 700.0
    assert board.record_run("missing", STARTED, NOW) is None
    board.put_queue(_queue(), deleted=True)
    assert "research" not in board.histories


def test_an_unreadable_history_is_ignored() -> None:
    board = QueueBoard()
    board.put_queue(_queue({"jobs": 0, "meanSeconds": -1}))
    assert "research" not in board.histories


def test_a_job_that_succeeds_is_counted_once_in_its_queues_status() -> None:
    async def scenario() -> tuple[FakeStore, QueueBoard]:
        store = FakeStore()
        feed = ClusterFeed(lambda: FILES.catalog)
        feed.replace_nodes(node_manifests(default_fleet()))
        controller = JobController(
            store=store,  # type: ignore[arg-type]
            cluster=feed,
            config_files=FILES,
            metrics=OperatorMetrics(),
            post_event=_no_event,
            clock=lambda: NOW,
        )
        controller.queues.put_queue(_queue())
        body = _job_body("done")
        key = controller.cache.put_job(body)
        controller.enqueue(key)
        await _settle(controller, store)
        assert controller.cache.jobs[key]["status"].get("admission"), store.statuses
        for name, pod in list(controller.cache.pods[key].items()):
            bound = {
                **pod,
                "metadata": {**pod["metadata"], "resourceVersion": "2"},
                "spec": {**pod["spec"], "nodeName": "n1"},
                "status": {"phase": "Succeeded", "startTime": _stamp(STARTED)},
            }
            controller.cache.put_pod(bound, name.rsplit("-", 2)[0])
        controller.cache.jobs[key]["status"]["startTime"] = _stamp(STARTED)
        controller.cache.jobs[key]["status"]["phase"] = "Running"
        for _ in range(3):  # reconciled again and again: counted once
            controller.enqueue(key)
            await _settle(controller, store)
        # The queue's status is written again for the next job: the history stays in it.
        controller.enqueue(controller.cache.put_job(_job_body("next")))
        await _settle(controller, store)
        assert controller.cache.jobs[("team", "next")]["status"].get("admission")
        return store, controller.queues

    store, board = asyncio.run(scenario())
    history = store.queue_statuses["research"]["runtimeHistory"]
    assert history["jobs"] == 1
    assert history["meanSeconds"] == 12 * 60
    assert board.histories["research"].jobs == 1
    assert text(history["meanSeconds"]) == "12m"
