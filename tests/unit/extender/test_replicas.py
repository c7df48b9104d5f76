"""Several replicas, one decider: a follower passes every verb on to the leader, and mutual TLS
refuses clients without a certificate."""

from __future__ import annotations

import asyncio
import copy
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from suanli.devcluster.pki import CertificateAuthority
from suanli.extender.forward import ANSWERED_BY_HEADER
from suanli.extender.replicas import ReplicaRole
from suanli.extender.server import ExtenderApp
from suanli.extender.service import ExtenderService
from suanli.extender.settings import ExtenderSettings
from suanli.extender.tls import serving_tls_context
from suanli.kube.lease import LeaseConfig
from tests.unit.extender.conftest import FakeBinder, Harness, pod


@dataclass
class FakeElector:
    """What a ReplicaRole reads of a LeaseElector: who it is and who it saw holding the Lease."""

    config: LeaseConfig
    holder: str | None = None
    is_leader: bool = False
    released: list[str] = field(default_factory=list)

    def release(self) -> None:
        self.released.append(self.config.identity)


def _role(identity: str, holder: str | None = None) -> ReplicaRole:
    elector = FakeElector(LeaseConfig("ns", "suanli-extender", identity), holder)
    return ReplicaRole(elector, lambda: None)  # type: ignore[arg-type]


@asynccontextmanager
async def _serving(
    service: ExtenderService, role: ReplicaRole | None, tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    runner = web.AppRunner(ExtenderApp(service, lambda: None, role).build())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


def _second_replica(harness: Harness) -> tuple[ExtenderService, FakeBinder]:
    """Another replica over the same cluster, with binds of its own."""
    binder = FakeBinder()
    other = copy.copy(harness.service)
    other.binder = binder
    return other, binder


def _bind_body(name: str) -> dict[str, Any]:
    return {"PodName": name, "PodNamespace": "team", "PodUID": f"u-{name}", "Node": "h100-use1-0"}


def test_a_follower_passes_filter_and_bind_on_to_the_leader(harness: Harness) -> None:
    follower_service, follower_binder = _second_replica(harness)

    async def main() -> tuple[list[str], dict[str, Any], list[str]]:
        leader_role = _role("leader")
        leader_role.leading = True
        async with _serving(harness.service, leader_role) as leader_port:
            url = f"http://127.0.0.1:{leader_port}"
            leader_role.elector.config = LeaseConfig("ns", "suanli-extender", url)
            follower = _role("http://127.0.0.1:1", holder=url)
            async with (
                _serving(follower_service, follower) as port,
                aiohttp.ClientSession() as session,
            ):
                base = f"http://127.0.0.1:{port}"
                body = {
                    "Pod": pod("a", '{"acceleratorTypes": ["H100"]}', gpus=8),
                    "NodeNames": harness.node_names,
                }
                async with session.post(f"{base}/filter", json=body) as response:
                    filtered = await response.json()
                    by = [response.headers[ANSWERED_BY_HEADER]]
                async with session.post(f"{base}/bind", json=_bind_body("a")) as response:
                    assert (await response.json())["Error"] == ""
                    by.append(response.headers[ANSWERED_BY_HEADER])
                return by, filtered, [url]

    by, filtered, (leader_url,) = asyncio.run(main())
    assert by == [leader_url, leader_url]
    assert filtered["NodeNames"] == ["h100-use1-2"]  # the first H100 by tie rank
    # The leader bound the pod (and counts it in its state); the follower bound nothing.
    assert [b[:2] for b in harness.binder.bound] == [("team", "a")]
    assert follower_binder.bound == []


def test_without_a_leader_a_follower_answers_with_an_error_the_scheduler_retries(
    harness: Harness,
) -> None:
    harness.service.settings = ExtenderSettings(scheduler_http_timeout=0.5)

    async def main() -> dict[str, Any]:
        async with (
            _serving(harness.service, _role("http://127.0.0.1:1")) as port,
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/bind", json=_bind_body("b")) as response,
        ):
            return dict(await response.json())

    answer = asyncio.run(main())
    assert "no extender replica leads right now" in answer["Error"]
    assert harness.binder.bound == []


def test_a_leader_stepping_down_lets_its_decisions_in_flight_finish_first() -> None:
    async def main() -> tuple[list[int], list[str]]:
        role = _role("me")
        role.leading = True
        role.in_flight = 1
        seen: list[int] = []

        async def finish() -> None:
            await asyncio.sleep(0.2)
            seen.append(role.in_flight)
            role.in_flight = 0

        await asyncio.gather(role.step_down(drain_seconds=2), finish())
        return seen, role.elector.released  # type: ignore[attr-defined,no-any-return]

    seen, released = asyncio.run(main())
    assert seen == [1]  # the hand-over waited for the decision in flight
    assert released == ["me"]


@pytest.mark.parametrize(
    ("name", "certificate", "status"),
    [
        ("no client certificate", None, 403),
        ("a certificate of the CA", "ours", 200),
        ("a certificate of another CA", "foreign", None),  # the handshake fails
    ],
)
def test_mutual_tls_answers_the_verbs_only_to_a_client_of_the_ca(
    harness: Harness, tmp_path: Path, name: str, certificate: str | None, status: int | None
) -> None:
    authority = CertificateAuthority(tmp_path / "ours")
    server = authority.issue("extender", "suanli-extender", server_ips=("127.0.0.1",))
    settings = ExtenderSettings(
        tls_cert_file=server.cert, tls_key_file=server.key, tls_client_ca_file=authority.pair.cert
    )
    harness.service.settings = settings
    context = ssl.create_default_context(cafile=str(authority.pair.cert))
    if certificate is not None:
        issuer = authority if certificate == "ours" else CertificateAuthority(tmp_path / "other")
        client = issuer.issue("scheduler", "suanli-scheduler")
        context.load_cert_chain(str(client.cert), str(client.key))

    async def main() -> tuple[int | None, str, int | None]:
        async with (
            _serving(harness.service, None, serving_tls_context(settings)) as port,
            aiohttp.ClientSession() as session,
        ):
            base = f"https://127.0.0.1:{port}"
            try:
                async with session.post(
                    f"{base}/bind", json=_bind_body("c"), ssl=context
                ) as response:
                    answer = (response.status, str((await response.json())["Error"]))
            except aiohttp.ClientError as error:
                answer = (None, f"handshake refused: {error}")
            # Probes and scrapes present no certificate and still get through.
            bare = ssl.create_default_context(cafile=str(authority.pair.cert))
            async with session.get(f"{base}/readyz", ssl=bare) as probe:
                return *answer, probe.status

    got_status, error, probe = asyncio.run(main())
    assert got_status == status, (name, error)
    assert probe == 200
    if status == 403:
        assert "needs a client certificate" in error
    assert (harness.binder.bound != []) is (status == 200), name
