"""kopf wiring: watch ComputeJobs, ComputeQueues, PriorityClasses and namespaces into the
controller, and start the reflectors (nodes, bound pods, and the pods of jobs; see podwatch).

Only event handlers are used: they need no finalizers and keep no progress annotations, so
deleting a job never waits for the operator, and all state lives in the job and its pods.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import kopf

from suanli.api.models import GROUP, PLURAL, VERSION
from suanli.api.queues import QUEUE_PLURAL
from suanli.controller.service import JobController
from suanli.kube.reflector import Reflector


def register(
    registry: kopf.OperatorRegistry,
    controller: JobController,
    reflectors: list[Reflector],
    *,
    kubeconfig: Path | None,
    resync_seconds: float,
) -> None:
    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if kubeconfig is not None:
            return kopf.login_with_kubeconfig(**kwargs)
        return kopf.login_with_service_account(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # One leader at a time is ensured by our Lease; kopf's peering would be a second lock.
        settings.peering.standalone = True
        settings.posting.enabled = False
        settings.watching.server_timeout = 300
        for reflector in reflectors:
            reflector.start()
        await asyncio.to_thread(lambda: [r.synced.wait(60) for r in reflectors])
        await controller.load_jobs()  # kopf lists the jobs only after this returns
        tasks = [controller.worker(), controller.resync(resync_seconds), controller.keep_budgets()]
        for coroutine in tasks:
            asyncio.get_running_loop().create_task(coroutine)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def job_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.job_news(type, _plain(body))

    @kopf.on.event(GROUP, VERSION, QUEUE_PLURAL, registry=registry)
    async def queue_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        plain = _plain(body)
        before = controller.queues.bodies.get(str(plain["metadata"]["name"]), {}).get("spec")
        controller.queues.put_queue(plain, deleted=type == "DELETED")
        if type == "DELETED" or plain.get("spec") != before:
            controller.enqueue_waiting()  # quotas changed: the waiting jobs may fit now

    @kopf.on.event("scheduling.k8s.io", "v1", "priorityclasses", registry=registry)
    async def priority_class_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.queues.put_priority_class(_plain(body), deleted=type == "DELETED")
        if controller.queues.active:
            controller.enqueue_waiting()

    @kopf.on.event("", "v1", "namespaces", registry=registry)
    async def namespace_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        plain = _plain(body)
        before = controller.queues.namespaces.get(str(plain["metadata"]["name"]))
        controller.queues.put_namespace(plain, deleted=type == "DELETED")
        if controller.queues.active and before != (plain["metadata"].get("labels") or {}):
            controller.enqueue_waiting()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for reflector in reflectors:
            reflector.stop()
        logging.getLogger(__name__).info("operator stopped")


def _plain(body: kopf.Body) -> dict[str, Any]:
    """The raw object behind kopf's read-only view (kopf builds a fresh one per event)."""
    return dict(body)
