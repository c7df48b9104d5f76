"""The extender's recorder: explanations are written in the background, and a write that fails
is counted, never silently dropped, and never stops the writes after it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from prometheus_client import generate_latest

from suanli.extender.kubeio import ApiRecorder
from suanli.metrics import ExtenderMetrics


@dataclass
class _Response:
    status: int
    data: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = "OK"


@dataclass
class _Pool:
    """Answers requests in turn from `plan`: an exception to raise or a status to answer
    (201 once the plan is done); `sent` keeps the writes it accepted."""

    plan: list[BaseException | int]
    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def request(self, method: str, url: str, *, body: bytes | None, **_: Any) -> _Response:
        step = self.plan.pop(0) if self.plan else 201
        if isinstance(step, BaseException):
            raise step
        if step < 300:
            self.sent.append((method, url, json.loads(body or b"{}")))
        return _Response(status=step, reason="Created" if step < 300 else "Refused")


def _recorder(pool: _Pool) -> tuple[ApiRecorder, ExtenderMetrics]:
    api = client.ApiClient(client.Configuration(host="https://apiserver.test"))
    api.rest_client.pool_manager = pool
    metrics = ExtenderMetrics()
    return ApiRecorder(client.CoreV1Api(api), metrics), metrics


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team", "uid": f"uid-{name}"}}


def _lost(metrics: ExtenderMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "suanli_extender_explanations_lost_total", {"reason": reason}
    )
    return value or 0.0


@dataclass(frozen=True)
class FailureCase:
    name: str
    failure: BaseException | int  # what the apiserver's first answer is


FAILURES = [
    FailureCase("the apiserver out of reach", failure=ConnectionRefusedError("refused")),
    FailureCase("the apiserver refuses the write", failure=422),
]


@pytest.mark.parametrize("case", FAILURES, ids=lambda c: c.name)
def test_a_failed_write_is_counted_and_the_next_one_is_written(case: FailureCase) -> None:
    pool = _Pool([case.failure])
    recorder, metrics = _recorder(pool)
    recorder.unschedulable(_pod("first"), "no node has 8 free H100")
    recorder.unschedulable(_pod("second"), "no node has 8 free H100")
    recorder.drain()
    written = [(url.rsplit("/", 1)[-1], body.get("reason")) for _, url, body in pool.sent]
    # The first pod's annotation failed; its Event and the second pod's writes went through.
    assert written == [("events", "Unschedulable"), ("second", None), ("events", "Unschedulable")]
    assert _lost(metrics, "write_failed") == 1.0
    assert _lost(metrics, "queue_full") == 0.0


def test_the_queued_explanations_are_exported() -> None:
    pool = _Pool([])
    recorder, metrics = _recorder(pool)
    recorder.placed(_pod("done"), {"node": "gpu-1"})
    recorder.drain()
    text = generate_latest(metrics.registry).decode()
    assert "suanli_extender_explanations_pending 0.0" in text
    assert [url for _, url, _ in pool.sent] == [
        "https://apiserver.test/api/v1/namespaces/team/events"
    ]
