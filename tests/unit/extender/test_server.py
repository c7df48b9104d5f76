"""The HTTP edge: every bad request gets HTTP 200 with a clear Error, and is counted."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from suanli.devcluster.pki import CertificateAuthority
from suanli.extender.server import ExtenderApp
from suanli.extender.settings import ExtenderSettings
from suanli.extender.tls import serving_tls_context
from tests.unit.chart.helm import render
from tests.unit.extender.conftest import Harness, pod


def _run(
    harness: Harness,
    scenario: Callable[[TestClient[Any, Any]], Awaitable[None]],
    ready: str | None = None,
) -> None:
    async def main() -> None:
        app = ExtenderApp(harness.service, lambda: ready).build()
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


def _counter(harness: Harness, name: str, **labels: str) -> float:
    value = harness.service.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_filter_round_trip_uses_go_field_names(harness: Harness) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {
            "Pod": pod("a", '{"acceleratorTypes": ["H100"]}', gpus=8),
            "NodeNames": harness.node_names,
        }
        response = await client.post("/filter", json=body)
        assert response.status == 200
        data = await response.json()
        assert set(data) == {"NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}
        assert data["NodeNames"] == ["h100-use1-2"]  # the first H100 by tie rank
        assert data["Error"] == ""
        response = await client.post("/prioritize", json=body)
        scores = await response.json()
        assert {"Host": "h100-use1-0", "Score": scores[0]["Score"]} in scores
        assert all(set(s) == {"Host", "Score"} for s in scores)

    _run(harness, scenario)
    assert _counter(harness, "suanli_extender_requests_total", verb="filter", result="success") == 1


def test_malformed_json_is_an_error_not_a_crash(harness: Harness) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post(
            "/filter", data=b'{"Pod": {', headers={"Content-Type": "application/json"}
        )
        assert response.status == 200
        data = await response.json()
        assert data["Error"].startswith("request body is not valid JSON")
        assert "Traceback" not in data["Error"]

    _run(harness, scenario)
    assert (
        _counter(
            harness, "suanli_extender_bad_requests_total", verb="filter", reason="malformed_json"
        )
        == 1
    )


def test_missing_fields_are_named(harness: Harness) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/bind", json={"PodName": "a", "PodNamespace": "team"})
        data = await response.json()
        assert "PodUID: Field required" in data["Error"]
        assert "Node: Field required" in data["Error"]
        response = await client.post("/filter", json={"NodeNames": ["a"]})
        assert "Pod: Field required" in (await response.json())["Error"]

    _run(harness, scenario)
    assert (
        _counter(harness, "suanli_extender_bad_requests_total", verb="bind", reason="invalid_body")
        == 1
    )


def test_bodies_over_one_mib_are_refused(harness: Harness) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        huge = {"Pod": pod("a"), "NodeNames": ["n" * 100] * 12000}
        response = await client.post("/filter", data=json.dumps(huge).encode())
        data = await response.json()
        assert response.status == 200
        assert "exceeds the 1 MiB limit" in data["Error"]
        assert "nodeCacheCapable" in data["Error"]

    _run(harness, scenario)
    assert (
        _counter(harness, "suanli_extender_bad_requests_total", verb="filter", reason="too_large")
        == 1
    )


def test_health_readiness_and_metrics(harness: Harness) -> None:
    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/healthz")).status == 200
        not_ready = await client.get("/readyz")
        assert not_ready.status == 503
        assert "nodes" in await not_ready.text()
        await client.post("/filter", data=b"nope")
        metrics = await (await client.get("/metrics")).text()
        assert 'suanli_extender_cache_objects{kind="nodes"} 50.0' in metrics
        assert "suanli_extender_request_duration_seconds_bucket" in metrics

    _run(harness, scenario, ready="cache not synced yet: nodes")


def test_no_decision_or_bind_before_the_cache_is_synced(harness: Harness) -> None:
    """A restarted extender that has not listed the bound pods yet would hand out their
    devices again: until its caches are synced every verb answers an Error, and binds nothing."""

    async def scenario(client: TestClient[Any, Any]) -> None:
        body = {"Pod": pod("a", gpus=1), "NodeNames": harness.node_names}
        filtered = await (await client.post("/filter", json=body)).json()
        assert filtered["Error"] == "filter refused: cache not synced yet: pods; retry"
        assert "NodeNames" not in filtered  # an Error only: kube-scheduler retries the pod
        binding = {"PodName": "a", "PodNamespace": "team", "PodUID": "uid-a", "Node": "h100-use1-0"}
        bound = await (await client.post("/bind", json=binding)).json()
        assert bound["Error"] == "bind refused: cache not synced yet: pods; retry"

    _run(harness, scenario, ready="cache not synced yet: pods")
    assert harness.binder.bound == []
    assert (
        _counter(harness, "suanli_extender_bad_requests_total", verb="bind", reason="not_synced")
        == 1
    )


def test_https_when_given_a_certificate(harness: Harness, tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path)
    pair = authority.issue("extender", "suanli-extender", server_ips=("127.0.0.1",))
    settings = ExtenderSettings(tls_cert_file=pair.cert, tls_key_file=pair.key)

    async def main() -> str:
        runner = web.AppRunner(ExtenderApp(harness.service, lambda: None).build())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving_tls_context(settings))
        await site.start()
        port = runner.addresses[0][1]
        client_context = ssl.create_default_context(cafile=str(authority.pair.cert))
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"https://127.0.0.1:{port}/healthz", ssl=client_context) as response,
            ):
                return await response.text()
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == "ok"


def test_the_charts_own_certificates_give_mutual_tls(harness: Harness, tmp_path: Path) -> None:
    """The CA and certificates the chart makes for a service-mode extender: the extender serves
    with them, a client presenting the chart's client certificate is answered, one without
    any gets 403."""
    manifest = render(values={"extender.mode": "service"})
    files: dict[str, Path] = {}
    for secret in ("suanli-extender-tls", "suanli-extender-client-tls"):
        for key, value in manifest.get("Secret", secret)["data"].items():
            files[f"{secret}/{key}"] = tmp_path / f"{secret}-{key}"
            files[f"{secret}/{key}"].write_bytes(base64.b64decode(value))
    settings = ExtenderSettings(
        tls_cert_file=files["suanli-extender-tls/tls.crt"],
        tls_key_file=files["suanli-extender-tls/tls.key"],
        tls_client_ca_file=files["suanli-extender-tls/ca.crt"],
    )
    harness.service.settings = settings
    body = {"Pod": pod("a", gpus=1), "NodeNames": harness.node_names}

    async def main() -> list[int]:
        runner = web.AppRunner(ExtenderApp(harness.service, lambda: None).build())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving_tls_context(settings))
        await site.start()
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/filter"
        statuses = []
        try:
            for with_certificate in (True, False):
                context = ssl.create_default_context(
                    cafile=str(files["suanli-extender-tls/ca.crt"])
                )
                if with_certificate:
                    context.load_cert_chain(
                        files["suanli-extender-client-tls/tls.crt"],
                        files["suanli-extender-client-tls/tls.key"],
                    )
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(
                        url,
                        json=body,
                        ssl=context,
                        server_hostname="suanli-extender.suanli-system.svc",
                    ) as response,
                ):
                    statuses.append(response.status)
        finally:
            await runner.cleanup()
        return statuses

    assert asyncio.run(main()) == [200, 403]


def test_tls_needs_both_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        ExtenderSettings(tls_cert_file=tmp_path / "cert.pem")


def test_a_bind_that_waited_past_the_schedulers_timeout_is_not_sent(harness: Harness) -> None:
    """A slow apiserver queues binds up; one the scheduler has stopped waiting for is answered
    with an error instead of binding late (the scheduler's retry would then conflict)."""
    harness.service.settings = ExtenderSettings(bind_workers=1, scheduler_http_timeout=0.5)
    bind = harness.binder.bind

    def slow_bind(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.5)
        bind(*args, **kwargs)

    harness.binder.bind = slow_bind  # type: ignore[method-assign]

    async def scenario(client: TestClient[Any, Any]) -> None:
        async def post(name: str) -> dict[str, Any]:
            body = {"PodName": name, "PodNamespace": "team", "PodUID": f"u-{name}", "Node": "n"}
            response = await client.post("/bind", json=body)
            return dict(await response.json())

        answers = await asyncio.gather(post("first"), post("second"), post("third"))
        errors = [a.get("Error") or "" for a in answers]
        assert sum(1 for e in errors if not e) == 1
        assert sum(1 for e in errors if "waited past the scheduler's timeout" in e) == 2

    _run(harness, scenario)
    assert len(harness.binder.bound) == 1
    assert _counter(harness, "suanli_extender_bad_requests_total", verb="bind", reason="too_late")
