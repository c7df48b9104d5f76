"""What the local control plane's daemons start from (certificates, kubeconfigs, scheduler and
KWOK configurations) and how each one is started and waited for, in order: etcd, then
kube-apiserver, then the controller manager, the two kube-schedulers and KWOK."""

from __future__ import annotations

import contextlib
import functools
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from suanli.devcluster import config
from suanli.devcluster.pki import APISERVER_DNS_NAMES, CertificateAuthority, service_account_keys
from suanli.devcluster.processes import ClusterError, Daemon, stop
from suanli.devcluster.statefile import OPERATOR_USER, Ports

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
START_TIMEOUT = 90.0
# How long a fake node's lease lasts; KWOK renews it every quarter of that. A kubelet's lease
# lasts 40 s (a renewal every 10 s), but 5000 fake nodes renewing that often ask the one local
# kube-apiserver for 500 writes a second, more than it does on a small machine besides the
# work under test: leases fell behind, kube-controller-manager marked nodes NotReady and
# tainted them, KWOK made them Ready again, and that churn (some 25 node patches a second)
# slowed every other write (a pod create took 190 ms at the apiserver). At 600 s, renewals
# (33 a second at 5000 nodes) were still as many writes as a 4096-pod job's pod creates; at
# an hour they are 6 a second. Nothing here tests how fast a dead node is noticed.
KWOK_NODE_LEASE_SECONDS = 3600


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
class ClusterFiles:
    pki: Path
    kubeconfig: Path
    scheduler_kubeconfig: Path
    controller_manager_kubeconfig: Path
    kwok_kubeconfig: Path
    operator_kubeconfig: Path
    default_scheduler_config: Path
    suanli_scheduler_config: Path
    kwok_stages: Path


def write_files(state_dir: Path, ports: Ports) -> ClusterFiles:
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
    files = ClusterFiles(
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


class Starter:
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


def start_etcd(starter: Starter, ports: Ports, data: Path) -> None:
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


def start_apiserver(starter: Starter, ports: Ports, files: ClusterFiles) -> None:
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


def start_controllers(starter: Starter, ports: Ports, files: ClusterFiles) -> None:
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
            # A fake node is unhealthy once its lease is older than this: KWOK renews each one
            # every quarter of KWOK_NODE_LEASE_SECONDS, so the two go together.
            f"--node-monitor-grace-period={KWOK_NODE_LEASE_SECONDS}s",
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
            f"--node-lease-duration-seconds={KWOK_NODE_LEASE_SECONDS}",
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
