"""The webhook every replica serves: what it refuses, and when the replica says it is Ready."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from suanli.configfiles import ScoringConfigFiles
from suanli.controller import webhook as hooks
from suanli.controller.review import review_job
from suanli.controller.webhook import JobWebhook, WebhookTLS
from suanli.devcluster.pki import CertificateAuthority
from suanli.devcluster.processes import free_port
from tests.unit.api.invalid_specs import full_job

CATALOG = ScoringConfigFiles(None, None).catalog


def _refusing(code: int, status: dict[str, Any]) -> Any:
    async def dry_run(namespace: str, manifest: dict[str, Any]) -> None:
        error = ApiException(status=code, reason="refused")
        error.body = json.dumps(status)
        raise error

    return dry_run


async def _accepting(namespace: str, manifest: dict[str, Any]) -> None:
    return None


def _review(body: dict[str, Any], dry_run: Any) -> tuple[list[str], list[str]]:
    return asyncio.run(review_job(body, "team", CATALOG, dry_run))


def test_a_pod_the_dry_run_refuses_for_good_refuses_the_job_at_the_jobs_field() -> None:
    invalid = {
        "reason": "Invalid",
        "message": "invalid",
        "details": {"causes": [{"field": "spec.hostname", "message": "Invalid value: Bad_Host"}]},
    }
    problems, warnings = _review(full_job(), _refusing(422, invalid))
    # One dry run per task, each named at its own task.
    assert problems == [
        "spec.tasks[0].template.spec.hostname: Invalid value: Bad_Host",
        "spec.tasks[1].template.spec.hostname: Invalid value: Bad_Host",
    ]
    assert warnings == []


def test_a_pod_refused_for_now_admits_the_job_with_a_warning() -> None:
    quota = {"reason": "Forbidden", "message": "exceeded quota: q"}
    problems, warnings = _review(full_job(), _refusing(403, quota))
    assert problems == []
    assert len(warnings) == 2
    assert "exceeded quota: q" in warnings[0]


def test_an_existing_pod_means_the_template_was_valid() -> None:
    exists = {"reason": "AlreadyExists", "message": "pods already exists"}
    assert _review(full_job(), _refusing(409, exists)) == ([], [])


def test_a_malformed_quantity_is_named_before_any_dry_run() -> None:
    job = full_job()
    job["spec"]["tasks"][1]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "lots", "memory": 1024}
    }
    problems, _ = _review(job, _accepting)
    assert problems == [
        "spec.tasks[1].template.spec.containers[0].resources.requests[cpu]: 'lots' is not a "
        "quantity (e.g. 500m, 2, 1Gi)"
    ]


def test_a_job_being_deleted_is_never_held_back() -> None:
    job = full_job()
    job["spec"]["tasks"][1]["accelerators"]["types"] = ["H1000"]
    job["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    assert _review(job, _refusing(422, {"message": "invalid"})) == ([], [])


def test_catalog_problems_still_refuse() -> None:
    job = full_job()
    job["spec"]["tasks"][1]["accelerators"]["types"] = ["H1000"]
    problems, _ = _review(job, _accepting)
    assert any("unknown accelerator type 'H1000'" in p for p in problems), problems


class FakeAdmission:
    """The admissionregistration API: fails `failures` times, then records what is written."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.created: list[dict[str, Any]] = []

    def create_validating_webhook_configuration(self, body: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ApiException(status=403, reason="Forbidden")
        self.created.append(body)


def _tls(directory: Path) -> WebhookTLS:
    authority = CertificateAuthority(directory)
    pair = authority.issue("webhook", "127.0.0.1", server_ips=("127.0.0.1",))
    return WebhookTLS(pair.cert, pair.key, authority.pair.cert)


def _post(port: int, cafile: Path, review: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(cafile))
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}{hooks.PATH}",
        data=json.dumps(review).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return dict(json.loads(response.read()))


@pytest.mark.parametrize("failures", [0, 1], ids=["registers-at-once", "registers-on-retry"])
def test_ready_only_once_serving_and_registered_then_answers_reviews(
    tmp_path: Path, failures: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "_REGISTER_RETRY_SECONDS", 0.05)
    tls = _tls(tmp_path)
    port = free_port()
    admission = FakeAdmission(failures)
    server = JobWebhook(
        addr="127.0.0.1",
        port=port,
        url=f"https://127.0.0.1:{port}{hooks.PATH}",
        tls=tls,
        admission=admission,  # type: ignore[arg-type]
        catalog=lambda: CATALOG,
        dry_run=_accepting,
    )
    job = full_job()
    job["spec"]["tasks"][1]["accelerators"]["types"] = ["H1000"]
    review = {"request": {"uid": "u-1", "namespace": "team", "name": "full", "object": job}}

    async def scenario() -> tuple[bool, bool, dict[str, Any]]:
        before = server.ready
        await server.start()
        for _ in range(100):
            if server.ready:
                break
            await asyncio.sleep(0.02)
        answer = await asyncio.to_thread(_post, port, tls.cafile, review)
        ready = server.ready
        await server.stop()
        return before, ready, answer

    before, ready, answer = asyncio.run(scenario())
    assert not before
    assert ready
    (written,) = admission.created
    (hook,) = written["webhooks"]
    assert hook["clientConfig"]["url"].endswith(f":{port}{hooks.PATH}")
    assert hook["failurePolicy"] == "Ignore"
    response = answer["response"]
    assert response["uid"] == "u-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert (
        "spec.tasks[1].accelerators.types[0]: unknown accelerator type 'H1000'"
        in (response["status"]["message"])
    )
