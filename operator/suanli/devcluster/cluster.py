"""`suanli dev up|down|status`: a real control plane on 127.0.0.1 for tests and the demo.

etcd, kube-apiserver, kube-controller-manager, two kube-schedulers (the default one and the
`suanli-scheduler` one that calls the extender) and KWOK run as detached daemons. Their pids and
ports live in `<state>/cluster.json`; an exclusive lock keeps two `up`/`down` from interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from suanli.devcluster import config, tools
from suanli.devcluster.pki import APISERVER_DNS_NAMES, CertificateAuthority, service_account_keys
from suanli.devcluster.processes import (
    ClusterError,
    Daemon,
    ProcessRecord,
    free_port,
    is_alive,
    port_in_use,
    stop,
)

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
START_TIMEOUT = 90.0
OPERATOR_USER = "suanli-operator"


def default_state_dir() -> Path:
    override = os.environ.get("SUANLI_DEV_DIR")
    if override:
        return Path(override)
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "suanli" / "dev"


class Ports(BaseModel):
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    suanli_scheduler: int
    kwok: int
    extender: int


class ClusterState(BaseModel):
    """What `up` wrote and `down`/`status` read back."""

    state_dir: str
    kubeconfig: str
    server: str
    etcd_data: str
    bin_dir: str
    ports: Ports
    processes: list[ProcessRecord]
    started_at: float
    start_seconds: float
    # The operator's own identity (OPERATOR_USER), which the admission policy trusts; empty in
    # the state of an older control plane, which then runs the operator as the admin.
    operator_kubeconfig: str = ""


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path
    apiserver_port: int | None = None
    extender_port: int | None = None


def _state_file(state_dir: Path) -> Path:
    return state_dir / "cluster.json"


def read_state(state_dir: Path) -> ClusterState | None:
    path = _state_file(state_dir)
    if not path.is_file():
        return None
    return ClusterState.model_validate_json(path.read_text())


def write_state(state: ClusterState) -> None:
    _state_file(Path(state.state_dir)).write_text(state.model_dump_json(indent=2))


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ClusterError(
                f"another `suanli dev` command is working on {state_dir}; wait for it to finish"
            ) from None
        yield


def _etcd_data_dir(state_dir: Path) -> Path:
    # tmpfs: etcd's fsyncs dominate API latency on disk, and the data is throw-away.
    tag = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"suanli-etcd-{tag}"
    return state_dir / "etcd"


def _allocate_ports(options: UpOptions) -> Ports:
    taken: set[int] = set()
    for flag, port in (
        ("--apiserver-port", options.apiserver_port),
        ("--extender-port", options.extender_port),
    ):
        if port is None:
            continue
        if port_in_use(port):
            raise ClusterError(
                f"{flag} {port}: port {port} on 127.0.0.1 is already in use; free it or pick "
                f"another {flag} (or leave it out to get a free port)"
            )
        taken.add(port)
    return Ports(
        etcd_client=free_port(avoid=taken),
        etcd_peer=free_port(avoid=taken),
        apiserver=options.apiserver_port or free_port(avoid=taken),
        controller_manager=free_port(avoid=taken),
        scheduler=free_port(avoid=taken),
        suanli_scheduler=free_port(avoid=taken),
        kwok=free_port(avoid=taken),
        extender=options.extender_port or free_port(avoid=taken),
    )


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _insecure() -> ssl.SSLContext:
    # The daemons' own healthz endpoints serve self-signed certificates; only liveness is read.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _client_context(pki: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return context


@dataclass
class _Files:
    pki: Path
    kubeconfig: Path
    scheduler_kubeconfig: Path
    controller_manager_kubeconfig: Path
    kwok_kubeconfig: Path
    operator_kubeconfig: Path
    default_scheduler_config: Path
    suanli_scheduler_config: Path
    kwok_stages: Path


def _write_files(state_dir: Path, ports: Ports) -> _Files:
    pki = state_dir / "pki"
    ca = CertificateAuthority(pki)
    ca.issue(
        "apiserver",
        "kube-apiserver",
        server_ips=("127.0.0.1", SERVICE_IP),
        server_dns=APISERVER_DNS_NAMES,
    )
    service_account_keys(pki)
    server = f"https://127.0.0.1:{ports.apiserver}"
    admin = ca.issue("admin", "suanli-admin", organization="system:masters")
    scheduler = ca.issue("scheduler", "system:kube-scheduler")
    controller_manager = ca.issue("controller-manager", "system:kube-controller-manager")
    # The dev cluster installs no RBAC for the operator, hence system:masters; its own user name
    # is what the admission policy trusts, as an install trusts the operator's ServiceAccount.
    operator = ca.issue("operator", OPERATOR_USER, organization="system:masters")
    kubeconfigs = state_dir / "kubeconfigs"
    files = _Files(
        pki=pki,
        kubeconfig=config.write_kubeconfig(
            state_dir / "kubeconfig", server, ca.pair.cert, admin, "admin"
        ),
        scheduler_kubeconfig=config.write_kubeconfig(
            kubeconfigs / "scheduler.yaml", server, ca.pair.cert, scheduler, "system:kube-scheduler"
        ),
        controller_manager_kubeconfig=config.write_kubeconfig(
            kubeconfigs / "controller-manager.yaml",
            server,
            ca.pair.cert,
            controller_manager,
            "system:kube-controller-manager",
        ),
        kwok_kubeconfig=config.write_kubeconfig(
            kubeconfigs / "kwok.yaml", server, ca.pair.cert, admin, "admin"
        ),
        operator_kubeconfig=config.write_kubeconfig(
            kubeconfigs / "operator.yaml", server, ca.pair.cert, operator, OPERATOR_USER
        ),
        default_scheduler_config=Path(),
        suanli_scheduler_config=Path(),
        kwok_stages=config.write_kwok_stages(state_dir / "config" / "kwok-stages.yaml"),
    )
    files.default_scheduler_config = config.write_yaml(
        state_dir / "config" / "default-scheduler.yaml",
        config.default_scheduler_config(files.scheduler_kubeconfig),
    )
    files.suanli_scheduler_config = config.write_yaml(
        state_dir / "config" / "suanli-scheduler.yaml",
        config.suanli_scheduler_config(files.scheduler_kubeconfig, ports.extender),
    )
    return files


class _Starter:
    """Starts daemons in order, remembering them so a failure stops what already runs."""

    def __init__(self, bin_dir: Path, logs: Path) -> None:
        self.bin_dir = bin_dir
        self.logs = logs
        self.daemons: list[Daemon] = []

    def start(self, name: str, binary: str, args: list[str]) -> Daemon:
        daemon = Daemon.start(name, [str(self.bin_dir / binary), *args], self.logs / f"{name}.log")
        self.daemons.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for daemon in reversed(self.daemons):
            if daemon.process.poll() is None:
                with contextlib.suppress(ClusterError):
                    stop(daemon.record())
            daemon.process.wait()


def _start_etcd(starter: _Starter, ports: Ports, data: Path) -> None:
    etcd = starter.start(
        "etcd",
        "etcd",
        [
            "--name=suanli-dev",
            f"--data-dir={data}",
            f"--listen-client-urls=http://127.0.0.1:{ports.etcd_client}",
            f"--advertise-client-urls=http://127.0.0.1:{ports.etcd_client}",
            f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-cluster=suanli-dev=http://127.0.0.1:{ports.etcd_peer}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
        ],
    )
    etcd.wait_until(
        lambda: _http_ok(f"http://127.0.0.1:{ports.etcd_client}/health"), START_TIMEOUT, "healthy"
    )


def _start_apiserver(starter: _Starter, ports: Ports, files: _Files) -> None:
    pki = files.pki
    apiserver = starter.start(
        "kube-apiserver",
        "kube-apiserver",
        [
            f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The endpoint reconciler refuses loopback addresses; nothing here dials the service.
            "--endpoint-reconciler-type=none",
            f"--secure-port={ports.apiserver}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--max-requests-inflight=1000",
            "--max-mutating-requests-inflight=500",
            "--profiling=false",
            "--v=1",
        ],
    )
    context = _client_context(pki)
    apiserver.wait_until(
        lambda: _http_ok(f"https://127.0.0.1:{ports.apiserver}/readyz", context),
        START_TIMEOUT,
        "ready",
    )


def _start_controllers(starter: _Starter, ports: Ports, files: _Files) -> None:
    pki = files.pki
    kcm = files.controller_manager_kubeconfig
    controller_manager = starter.start(
        "kube-controller-manager",
        "kube-controller-manager",
        [
            f"--kubeconfig={kcm}",
            f"--authentication-kubeconfig={kcm}",
            f"--authorization-kubeconfig={kcm}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.controller_manager}",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--v=1",
        ],
    )
    schedulers = [
        starter.start(
            name,
            "kube-scheduler",
            [
                f"--config={config_file}",
                f"--authentication-kubeconfig={files.scheduler_kubeconfig}",
                f"--authorization-kubeconfig={files.scheduler_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--v=1",
            ],
        )
        for name, config_file, port in (
            ("kube-scheduler", files.default_scheduler_config, ports.scheduler),
            ("suanli-kube-scheduler", files.suanli_scheduler_config, ports.suanli_scheduler),
        )
    ]
    kwok = starter.start(
        "kwok",
        "kwok",
        [
            f"--kubeconfig={files.kwok_kubeconfig}",
            f"--config={files.kwok_stages}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.0/16",
            "--node-ip=10.250.0.1",
            f"--server-address=127.0.0.1:{ports.kwok}",
        ],
    )
    insecure = _insecure()
    controller_manager.wait_until(
        lambda: _http_ok(f"https://127.0.0.1:{ports.controller_manager}/healthz", insecure),
        START_TIMEOUT,
        "healthy",
    )
    for scheduler, port in zip(schedulers, (ports.scheduler, ports.suanli_scheduler), strict=True):
        healthz = functools.partial(_http_ok, f"https://127.0.0.1:{port}/healthz", insecure)
        scheduler.wait_until(healthz, START_TIMEOUT, "healthy")
    kwok.wait_until(
        lambda: _http_ok(f"http://127.0.0.1:{ports.kwok}/healthz"), START_TIMEOUT, "healthy"
    )


def _running(state: ClusterState) -> list[ProcessRecord]:
    return [record for record in state.processes if is_alive(record)]


def up(options: UpOptions) -> ClusterState:
    """Start the control plane; refuse (and change nothing) when one already runs here."""
    state_dir = options.state_dir
    with locked(state_dir):
        existing = read_state(state_dir)
        if existing and _running(existing):
            raise ClusterError(
                f"a local control plane is already running from {state_dir} "
                f"(apiserver {existing.server}); use it, or run `suanli dev down` first"
            )
        if existing:
            _cleanup(existing)
        bin_dir = tools.bin_dir(build=True)
        began = time.monotonic()
        ports = _allocate_ports(options)
        for stale in ("pki", "kubeconfigs", "config", "logs"):
            shutil.rmtree(state_dir / stale, ignore_errors=True)
        files = _write_files(state_dir, ports)
        data = _etcd_data_dir(state_dir)
        shutil.rmtree(data, ignore_errors=True)
        starter = _Starter(bin_dir, state_dir / "logs")
        try:
            _start_etcd(starter, ports, data)
            _start_apiserver(starter, ports, files)
            _start_controllers(starter, ports, files)
            records = [daemon.record() for daemon in starter.daemons]
        except BaseException:
            starter.stop_all()
            shutil.rmtree(data, ignore_errors=True)
            raise
        state = ClusterState(
            state_dir=str(state_dir),
            kubeconfig=str(files.kubeconfig),
            server=f"https://127.0.0.1:{ports.apiserver}",
            etcd_data=str(data),
            bin_dir=str(bin_dir),
            ports=ports,
            processes=records,
            started_at=time.time(),
            start_seconds=round(time.monotonic() - began, 2),
            operator_kubeconfig=str(files.operator_kubeconfig),
        )
        write_state(state)
        return state


def _cleanup(state: ClusterState) -> None:
    for record in reversed(state.processes):
        stop(record)
    shutil.rmtree(state.etcd_data, ignore_errors=True)
    _state_file(Path(state.state_dir)).unlink(missing_ok=True)


def down(state_dir: Path) -> ClusterState | None:
    """Stop every daemon (newest first) and remove the etcd data; a no-op when nothing runs."""
    with locked(state_dir):
        state = read_state(state_dir)
        if state is None:
            return None
        _cleanup(state)
        return state


def status(state_dir: Path) -> tuple[ClusterState | None, list[ProcessRecord]]:
    """The recorded cluster and which of its daemons still run."""
    state = read_state(state_dir)
    if state is None:
        return None, []
    return state, _running(state)
