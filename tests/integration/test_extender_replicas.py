"""A locked-down extender with two replicas on the real control plane: mutual TLS refuses a
client without the CA's certificate, and a rolling update of the replicas behind one address
(as a Service spreads connections) while pods are being scheduled leaves none stuck and no node
overcommitted, whichever replica a request reaches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from suanli.devcluster import config
from suanli.devcluster.pki import CertificateAuthority, KeyPair
from suanli.devcluster.processes import Daemon, free_port
from suanli.scoring.resources import CPU, parse_resource_list, pod_requests
from tests.integration.conftest import ControlPlane
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    owning_job,
    raw_pod,
    raw_pods,
)

SCHEDULER_NAME = "suanli-ha-scheduler"
SERVICE_NAME = "suanli-extender.suanli-system.svc"
LEASE_NAMESPACE = "default"
LEASE_NAME = "suanli-extender-replicas-test"
PODS = 80


class RoundRobinProxy:
    """What a Service does for the scheduler's connections, on loopback: each new connection
    goes to the next backend still listed (TCP passthrough, so TLS stays end to end)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.backends: list[int] = []
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        started.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            backends = list(self.backends)
            if not backends:
                break
            port = backends[self._next % len(backends)]
            self._next += 1
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(OSError):
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Certificates:
    ca: Path
    server: KeyPair
    client: KeyPair
    foreign_client: KeyPair

    def context(self, client_pair: KeyPair | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.check_hostname = False  # reached at 127.0.0.1; the name is the Service's
        if client_pair is not None:
            context.load_cert_chain(str(client_pair.cert), str(client_pair.key))
        return context


@dataclass
class Replicas:
    control_plane: ControlPlane
    certs: Certificates
    logs: Path
    running: dict[str, Daemon] = field(default_factory=dict)

    def start(self, name: str) -> int:
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        daemon = Daemon.start(
            f"extender-{name}",
            [
                sys.executable,
                "-m",
                "suanli",
                "extender",
                f"--kubeconfig={self.control_plane.kubeconfig}",
                f"--port={port}",
                f"--tls-cert-file={self.certs.server.cert}",
                f"--tls-key-file={self.certs.server.key}",
                f"--tls-client-ca-file={self.certs.ca}",
                f"--scheduler-name={SCHEDULER_NAME}",
                "--leader-elect",
                f"--lease-namespace={LEASE_NAMESPACE}",
                f"--lease-name={LEASE_NAME}",
                f"--advertise-url={url}",
                f"--peer-cert-file={self.certs.client.cert}",
                f"--peer-key-file={self.certs.client.key}",
                f"--peer-server-name={SERVICE_NAME}",
                "--shutdown-grace=3s",
            ],
            self.logs / f"extender-{name}.log",
        )
        daemon.wait_until(lambda: self.status(port, "/readyz") == 200, 60, "ready")
        self.running[name] = daemon
        return port

    def status(self, port: int, path: str) -> int | None:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}{path}", timeout=2, context=self.certs.context(None)
            ) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None

    def post(self, port: int, path: str, body: Any, pair: KeyPair | None) -> tuple[int, Any, str]:
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=10, context=self.certs.context(pair)
            ) as response:
                answered_by = response.headers.get("X-Suanli-Answered-By", "")
                return int(response.status), json.loads(response.read()), answered_by
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read()), ""

    def terminate(self, name: str) -> None:
        daemon = self.running.pop(name)
        daemon.process.send_signal(signal.SIGTERM)
        daemon.process.wait(30)

    def stop_all(self) -> None:
        for daemon in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.process.pid, signal.SIGKILL)
            daemon.process.wait()
        self.running.clear()


def _certificates(directory: Path) -> Certificates:
    authority = CertificateAuthority(directory / "ca")
    server = authority.issue(
        "extender", "suanli-extender", server_ips=("127.0.0.1",), server_dns=(SERVICE_NAME,)
    )
    client_pair = authority.issue("scheduler", "suanli-scheduler")
    foreign = CertificateAuthority(directory / "foreign").issue("intruder", "intruder")
    return Certificates(authority.pair.cert, server, client_pair, foreign)


def _scheduler(control_plane: ControlPlane, certs: Certificates, proxy: int, logs: Path) -> Daemon:
    """A kube-scheduler with a profile of its own, calling the replicas through the proxy over
    mutual TLS, as the chart configures it."""
    state_dir = Path(control_plane.state.state_dir)
    kubeconfig = state_dir / "kubeconfigs" / "scheduler.yaml"
    document = config.suanli_scheduler_config(kubeconfig, proxy)
    document["profiles"] = [{"schedulerName": SCHEDULER_NAME}]
    document["extenders"][0] |= {
        "urlPrefix": f"https://127.0.0.1:{proxy}",
        "enableHTTPS": True,
        "tlsConfig": {
            "caFile": str(certs.ca),
            "certFile": str(certs.client.cert),
            "keyFile": str(certs.client.key),
            "serverName": SERVICE_NAME,
        },
    }
    path = logs / "ha-scheduler.yaml"
    path.write_text(yaml.safe_dump(document))
    port = free_port()
    daemon = Daemon.start(
        "ha-kube-scheduler",
        [
            str(Path(control_plane.state.bin_dir) / "kube-scheduler"),
            f"--config={path}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--v=1",
        ],
        logs / "ha-kube-scheduler.log",
    )
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/healthz", timeout=2, context=insecure
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    daemon.wait_until(healthy, 60, "healthy")
    return daemon


def _pod(name: str, owner: dict[str, Any], scheduler: str = SCHEDULER_NAME) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "ownerReferences": [owner]},
        "spec": {
            "schedulerName": scheduler,
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": "2", "memory": "1Gi"}},
                }
            ],
        },
    }


def _lease(coordination: client.CoordinationV1Api) -> dict[str, Any]:
    response: Any = coordination.read_namespaced_lease(
        LEASE_NAME, LEASE_NAMESPACE, _preload_content=False
    )
    return dict(json.loads(response.data)["spec"])


def _overcommitted(core: client.CoreV1Api) -> dict[str, tuple[int, int]]:
    """Nodes whose live pods ask for more CPU than they have: (requested, allocatable) milli."""
    nodes: Any = core.list_node(_preload_content=False)
    allocatable = {
        n["metadata"]["name"]: parse_resource_list(n["status"]["allocatable"], "node").amount(CPU)
        for n in json.loads(nodes.data)["items"]
    }
    pods: Any = core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed",
        _preload_content=False,
    )
    requested: dict[str, int] = {}
    for pod in json.loads(pods.data)["items"]:
        node = pod["spec"]["nodeName"]
        requested[node] = requested.get(node, 0) + pod_requests(pod).amount(CPU)
    return {n: (r, allocatable[n]) for n, r in requested.items() if r > allocatable.get(n, 0)}


@pytest.fixture
def replicas(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Replicas]:
    running = Replicas(control_plane, _certificates(tmp_path), tmp_path / "logs")
    try:
        yield running
    finally:
        running.stop_all()
        coordination = client.CoordinationV1Api(control_plane.core.api_client)
        with contextlib.suppress(client.exceptions.ApiException):
            coordination.delete_namespaced_lease(LEASE_NAME, LEASE_NAMESPACE)


@pytest.fixture
def namespace(control_plane: ControlPlane, computejob_crd: None) -> Iterator[str]:
    name = new_namespace(control_plane.core, "replicas")
    yield name
    delete_namespace_and_wait(control_plane.core, name)


def test_a_bind_without_the_cas_certificate_is_refused_and_any_replica_answers_as_the_leader(
    control_plane: ControlPlane, namespace: str, replicas: Replicas
) -> None:
    core = control_plane.core
    owner = owning_job(core, namespace)
    ports = {name: replicas.start(name) for name in ("a", "b")}
    coordination = client.CoordinationV1Api(core.api_client)
    leader = eventually(lambda: _lease(coordination).get("holderIdentity"), 30, "a leader")

    # A pending pod nobody else schedules: a bind without the CA's certificate must not touch
    # it, whether the client has no certificate or one of another CA.
    core.create_namespaced_pod(namespace, _pod("target", owner, "nobody"))  # type: ignore[arg-type]
    bind = {"PodName": "target", "PodNamespace": namespace, "PodUID": "", "Node": "cpu-use1-0"}
    status, answer, _ = replicas.post(ports["a"], "/bind", bind, None)
    assert status == 403, answer
    assert "needs a client certificate" in answer["Error"]
    # TLS 1.3: the server checks the client's certificate after the handshake, and hangs up.
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        replicas.post(ports["b"], "/bind", bind, replicas.certs.foreign_client)
    assert (raw_pod(core, namespace, "target") or {})["spec"].get("nodeName") is None

    # Whichever replica a filter reaches, the leader answers it.
    probe = _pod("probe", owner) | {"metadata": {"name": "probe", "namespace": namespace}}
    filter_args = {"Pod": probe, "NodeNames": ["cpu-use1-0", "cpu-use1-1"]}
    for port in ports.values():
        status, answer, answered_by = replicas.post(
            port, "/filter", filter_args, replicas.certs.client
        )
        assert status == 200
        assert answer["Error"] == "", answer
        assert answer["NodeNames"], answer
        assert answered_by == leader


def test_a_rolling_update_of_two_replicas_while_pods_are_scheduled_leaves_none_stuck(
    control_plane: ControlPlane, namespace: str, replicas: Replicas, tmp_path: Path
) -> None:
    core = control_plane.core
    coordination = client.CoordinationV1Api(core.api_client)
    owner = owning_job(core, namespace)
    proxy = RoundRobinProxy()
    ports = {name: replicas.start(name) for name in ("a", "b")}
    proxy.backends = [ports["a"], ports["b"]]
    eventually(lambda: _lease(coordination).get("holderIdentity"), 30, "a leader")
    scheduler = _scheduler(control_plane, replicas.certs, proxy.port, tmp_path)
    created: list[str] = []

    def submit() -> None:
        for i in range(PODS):
            core.create_namespaced_pod(namespace, _pod(f"p-{i}", owner))  # type: ignore[arg-type]
            created.append(f"p-{i}")
            time.sleep(0.25)

    def unbound() -> list[str]:
        pods = [p for p in raw_pods(core, namespace) if p["metadata"]["name"].startswith("p-")]
        return [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]

    try:
        submitter = threading.Thread(target=submit, daemon=True)
        submitter.start()
        # One replica at a time (maxSurge 1, maxUnavailable 0): a new one is Ready, then an old
        # one leaves the endpoints and gets SIGTERM.
        time.sleep(3)
        ports["c"] = replicas.start("c")
        proxy.backends = [ports["b"], ports["c"]]
        replicas.terminate("a")
        ports["d"] = replicas.start("d")
        proxy.backends = [ports["c"], ports["d"]]
        replicas.terminate("b")
        submitter.join(120)
        assert len(created) == PODS
        eventually(lambda: not unbound(), 120, "every pod bound")
        assert _overcommitted(core) == {}
        lease = _lease(coordination)
        # The decisions moved to the new replicas with the update.
        assert lease["holderIdentity"] in {f"https://127.0.0.1:{ports[n]}" for n in ("c", "d")}
        assert int(lease.get("leaseTransitions") or 0) >= 1
    finally:
        os.killpg(scheduler.process.pid, signal.SIGKILL)
        scheduler.process.wait()
        proxy.close()
