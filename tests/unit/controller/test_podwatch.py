"""Pod events of jobs go from the watch thread to the loop in batches, slimmed, and wake their job."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from suanli.controller.cache import JobCache, JobKey
from suanli.controller.podwatch import JobPodFeed


class _Controller:
    def __init__(self) -> None:
        self.cache = JobCache()
        self.enqueued: list[JobKey] = []

    def pods_changed(self, key: JobKey) -> None:
        self.enqueued.append(key)


def _pod(name: str, job: str | None, phase: str = "Pending") -> dict[str, Any]:
    labels = {"suanli.dev/job": job} if job else {}
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": labels, "managedFields": [{}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": phase},
    }


def test_events_from_a_watch_thread_reach_the_cache_in_one_batch() -> None:
    async def scenario() -> tuple[_Controller, int]:
        controller = _Controller()
        feed = JobPodFeed(controller, asyncio.get_running_loop())  # type: ignore[arg-type]
        drains = 0
        drain = feed.drain

        def counted() -> None:
            nonlocal drains
            drains += 1
            drain()

        feed.drain = counted  # type: ignore[method-assign]

        def watch() -> None:
            feed.replace([_pod("a-0", "a"), _pod("stray", None)])
            feed.apply("ADDED", _pod("b-0", "b"))
            feed.apply("MODIFIED", _pod("a-0", "a", "Running"))
            feed.apply("ADDED", _pod("other", None))
            feed.apply("DELETED", _pod("b-0", "b"))

        thread = threading.Thread(target=watch)
        thread.start()
        thread.join()
        await asyncio.sleep(0.01)
        return controller, drains

    controller, drains = asyncio.run(scenario())
    assert drains == 1
    assert controller.cache.pods[("ns", "a")]["a-0"]["status"]["phase"] == "Running"
    assert "managedFields" not in controller.cache.pods[("ns", "a")]["a-0"]["metadata"]
    assert controller.cache.pods[("ns", "b")] == {}
    assert sorted(set(controller.enqueued)) == [("ns", "a"), ("ns", "b")]
    assert all(
        "stray" not in pods and "other" not in pods for pods in controller.cache.pods.values()
    )


def test_a_relist_drops_pods_that_are_gone_and_wakes_their_jobs() -> None:
    cache = JobCache()
    cache.put_pod(_pod("a-0", "a"), "a")
    cache.put_pod(_pod("a-1", "a"), "a")
    cache.put_pod(_pod("c-0", "c"), "c")
    gates_view = cache.pods
    touched = cache.replace_pods([(_pod("a-0", "a"), "a"), (_pod("d-0", "d"), "d")])
    assert touched == {("ns", "a"), ("ns", "c"), ("ns", "d")}
    assert set(cache.pods) == {("ns", "a"), ("ns", "d")}
    assert list(cache.pods[("ns", "a")]) == ["a-0"]
    assert gates_view is cache.pods  # readers holding the mapping see the relist
