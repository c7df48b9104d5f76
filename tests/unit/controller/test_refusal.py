"""A pod refused by the apiserver: for good or for now, at which field of the job, and what the
job's status and events then say."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from suanli.api import ComputeJobStatus, ConditionStatus, Phase
from suanli.controller.refusal import (
    PODS_CREATED,
    RETRY_SECONDS,
    PodRefusal,
    after_creation,
    refusal_from,
)
from tests.unit.controller.conftest import T0


def _status_body(code: int, reason: str, message: str, *causes: tuple[str, str]) -> str:
    details = {"causes": [{"field": f, "message": m} for f, m in causes]} if causes else {}
    return json.dumps(
        {"kind": "Status", "code": code, "reason": reason, "message": message, "details": details}
    )


@dataclass(frozen=True)
class Answer:
    id: str
    code: int
    reason: str
    message: str
    permanent: bool


ANSWERS = (
    Answer("invalid", 422, "Invalid", 'Pod "x" is invalid: spec.containers[0].image', True),
    Answer("undecodable", 400, "BadRequest", "cannot be handled as a Pod", True),
    Answer("policy", 403, "Forbidden", "pods labelled refuse-me are not allowed", True),
    Answer("pod-security", 403, "Forbidden", 'violates PodSecurity "restricted:latest"', True),
    Answer("quota", 403, "Forbidden", "exceeded quota: q, requested: pods=1", False),
    Answer("rbac", 403, "Forbidden", 'User "op" cannot create resource "pods"', False),
    Answer("terminating", 403, "Forbidden", "namespace t is being terminated", False),
    Answer("namespace-gone", 404, "NotFound", 'namespaces "t" not found', False),
    Answer("conflict", 409, "Conflict", "object is being deleted", False),
    Answer("throttled", 429, "TooManyRequests", "try again later", False),
    Answer("webhook-down", 500, "InternalError", "failed calling webhook", False),
    Answer("unavailable", 503, "ServiceUnavailable", "etcd leader changed", False),
)


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.id)
def test_a_refusal_is_for_good_only_when_the_same_pod_would_be_refused_again(
    answer: Answer,
) -> None:
    refusal = refusal_from(
        "j-w-0", 0, answer.code, _status_body(answer.code, answer.reason, answer.message)
    )
    assert refusal.permanent is answer.permanent
    assert refusal.reason == answer.reason
    assert answer.message in refusal.describe()


@pytest.mark.parametrize(
    ("pod_field", "job_field"),
    [
        ("spec.containers[0].image", "spec.tasks[1].template.spec.containers[0].image"),
        ("metadata.labels", "spec.tasks[1].template.metadata.labels"),
        ("metadata.annotations", "spec.tasks[1].template.metadata.annotations"),
        ("metadata.name", "metadata.name"),
        (
            "metadata.ownerReferences",
            "spec.tasks[1].template (metadata.ownerReferences of the pod)",
        ),
    ],
)
def test_a_field_of_the_pod_is_named_where_the_job_sets_it(pod_field: str, job_field: str) -> None:
    body = _status_body(422, "Invalid", "invalid", (pod_field, "Invalid value"))
    refusal = refusal_from("j-w-0", 1, 422, body)
    assert refusal.field_messages() == [f"{job_field}: Invalid value"]


def test_an_answer_that_is_not_a_status_is_kept_as_text() -> None:
    refusal = refusal_from("j-w-0", 0, 502, b"<html>bad gateway</html>")
    assert refusal.message == "<html>bad gateway</html>"
    assert refusal.field_messages() == ["spec.tasks[0].template: <html>bad gateway</html>"]
    assert not refusal.permanent


def _refusal(code: int, message: str) -> PodRefusal:
    return PodRefusal("j-w-0", 0, code, "Forbidden" if code == 403 else "Invalid", message)


def test_a_refusal_for_good_fails_the_job_with_the_apiservers_words() -> None:
    status = ComputeJobStatus(phase=Phase.SCHEDULING)
    outcome = after_creation(status, [_refusal(422, "image: Required value")], 0, T0)
    assert outcome.status.phase is Phase.FAILED
    assert outcome.status.completion_time == T0
    (failed,) = outcome.status.conditions
    assert (failed.type, failed.reason) == ("Failed", "PodRejected")
    assert "image: Required value" in failed.message
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "PodRejected")]
    assert outcome.retry_after is None


def test_a_passing_refusal_waits_says_why_once_and_clears_when_pods_are_made() -> None:
    quota = _refusal(403, "exceeded quota: q")
    first = after_creation(ComputeJobStatus(phase=Phase.SCHEDULING), [quota], 0, T0)
    assert first.status.phase is Phase.SCHEDULING
    (waiting,) = first.status.conditions
    assert (waiting.type, waiting.status, waiting.reason) == (
        PODS_CREATED,
        ConditionStatus.FALSE,
        "CreateRefused",
    )
    assert "exceeded quota: q" in waiting.message
    assert [e.reason for e in first.events] == ["PodCreateRefused"]
    assert first.retry_after == RETRY_SECONDS
    again = after_creation(first.status, [quota], 0, T0)
    assert again.events == []  # the same words again are not news
    assert again.retry_after == RETRY_SECONDS
    done = after_creation(again.status, [], 2, T0)
    (created,) = done.status.conditions
    assert (created.status, created.reason) == (ConditionStatus.TRUE, "Created")
    assert [e.reason for e in done.events] == ["Created"]


def test_nothing_refused_and_nothing_waiting_changes_nothing() -> None:
    status = ComputeJobStatus(phase=Phase.SCHEDULING)
    assert after_creation(status, [], 3, T0).status is status
