"""Which jobs are reconciled first: a job whose pods or quota wait on its reconcile goes ahead
of the jobs that only wait for quota, however many of those are queued."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.controller.quota import waits_for_quota
from suanli.controller.service import JobController
from tests.unit.controller.test_quota_gate import _gang
from tests.unit.controller.test_service import FakeStore, _controller


def _waiting(**changes: Any) -> dict[str, Any]:
    """A job whose last verdict was to wait for quota; `changes` replace status fields."""
    status: dict[str, Any] = {
        "phase": "Queued",
        "observedGeneration": 1,
        "conditions": [{"type": "QuotaReserved", "status": "False", "reason": "QuotaExhausted"}],
        **changes,
    }
    return {"metadata": {"name": "j", "generation": 1}, "status": status}


@dataclass(frozen=True)
class WaitCase:
    name: str
    body: dict[str, Any] | None
    has_pods: bool
    waits: bool


ADMITTED = {"queue": "q", "acceleratorTypes": ["H100"], "charged": []}
WAITS = [
    WaitCase("waits for quota", _waiting(), has_pods=False, waits=True),
    WaitCase("admitted by another job's cycle", _waiting(admission=ADMITTED), False, False),
    WaitCase("holds quota and waits for room", _waiting(conditions=[]), False, False),
    WaitCase(
        "preempted, its pods not gone yet",
        _waiting(conditions=[{"type": "QuotaReserved", "status": "False", "reason": "Preempted"}]),
        has_pods=True,
        waits=False,
    ),
    WaitCase("its spec edited since", _waiting(observedGeneration=0), False, False),
    WaitCase("running", _waiting(phase="Running"), False, False),
    WaitCase("new, never reconciled", {"metadata": {"name": "j"}}, False, False),
    WaitCase("deleted", None, False, False),
]


@pytest.mark.parametrize("case", WAITS, ids=[c.name for c in WAITS])
def test_only_a_job_that_waits_for_quota_and_nothing_else_goes_to_the_background(
    case: WaitCase,
) -> None:
    assert waits_for_quota(case.body, case.has_pods) is case.waits


def _one_gang_of_quota(
    store: FakeStore, waiting: tuple[int, ...]
) -> tuple[JobController, tuple[str, str]]:
    """A controller whose queue `research` has H100 quota for one gang, with the gang `first`
    and the gangs `w<index>` (created `index` seconds after it) cached and queued, in order."""
    controller = _controller(store)
    controller.queues.put_queue(
        {
            "metadata": {"name": "research"},
            "spec": {"quotas": [{"resource": "H100", "nominal": 32}]},
        }
    )
    first = controller.cache.put_job(_gang("first", 0))
    controller.enqueue(first)
    for index in waiting:
        controller.enqueue(controller.cache.put_job(_gang(f"w{index}", index)))
    return controller, first


@dataclass
class Recorder:
    order: list[str] = field(default_factory=list)


def test_a_job_admitted_by_another_jobs_cycle_is_reconciled_before_the_others_waiting() -> None:
    """Quota for one gang; five wait. The first waiting job reconciled admits the oldest one,
    whose reconcile (the one that creates its pods) then comes before the three others are
    re-planned, not after them."""

    async def scenario() -> tuple[list[str], dict[str, Any]]:
        store = FakeStore()
        # Cached newest first: the bulk re-plan queues them in that order.
        controller, first = _one_gang_of_quota(store, waiting=(5, 4, 3, 2, 1))
        worker = asyncio.ensure_future(controller.worker(concurrency=1))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if controller.idle():
                break
        assert controller.cache.jobs[first]["status"]["admission"]
        controller.cache.jobs[first]["status"]["phase"] = "Succeeded"
        recorder = Recorder()
        reconcile = controller.reconcile

        async def recorded(key: tuple[str, str]) -> None:
            recorder.order.append(key[1])
            await reconcile(key)

        controller.reconcile = recorded  # type: ignore[method-assign]
        controller.enqueue_waiting()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if controller.idle():
                break
        worker.cancel()
        return recorder.order, controller.cache.jobs[("team", "w1")]["status"]

    order, admitted = asyncio.run(scenario())
    assert admitted["admission"]["queue"] == "research"
    assert order[:2] == ["w5", "w1"]
    assert sorted(order[2:]) == ["w2", "w3", "w4"]


class ReleaseWrittenSlowly(FakeStore):
    """Every status write in order; a job's Succeeded status takes a while to be written."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, dict[str, Any]]] = []

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        if status.get("phase") == "Succeeded":
            await asyncio.sleep(0.05)
        self.writes.append((name, copy.deepcopy(status)))
        await super().patch_status(namespace, name, status)


def test_quota_given_back_is_written_before_another_job_is_admitted_on_it() -> None:
    """Quota for one gang: when it finishes, the next gang is admitted on its quota only after
    its Succeeded status is written, so no moment shows both holding it (the next admission
    written first, or alone if the operator stops in between, would over-admit the queue)."""

    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        store = ReleaseWrittenSlowly()
        controller, first = _one_gang_of_quota(store, waiting=(2, 1))
        worker = asyncio.ensure_future(controller.worker())
        await _until_idle(controller)
        assert controller.cache.jobs[first]["status"]["admission"]
        for pod in list(store.pods.values()):
            if pod["metadata"]["labels"]["suanli.dev/job"] == "first":
                ended = copy.deepcopy(pod)
                ended["metadata"]["resourceVersion"] = "2"
                ended["spec"]["nodeName"] = "h100-use1-0"
                ended["status"] = {"phase": "Succeeded"}
                controller.cache.put_pod(ended, "first")
        # The finished gang and the waiting ones are reconciled together.
        controller.enqueue(first)
        controller.enqueue_waiting()
        await _until_idle(controller)
        worker.cancel()
        return store.writes

    writes = asyncio.run(scenario())
    released = next(
        i for i, (name, s) in enumerate(writes) if name == "first" and s.get("phase") == "Succeeded"
    )
    admitted = next(i for i, (name, s) in enumerate(writes) if name == "w1" and s.get("admission"))
    assert released < admitted


async def _until_idle(controller: JobController) -> None:
    for _ in range(300):
        await asyncio.sleep(0.01)
        if controller.idle():
            return
