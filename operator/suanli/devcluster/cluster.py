"""`suanli dev up|down|status`: a real control plane on 127.0.0.1 for tests and the demo.

etcd, kube-apiserver, kube-controller-manager, two kube-schedulers (the default one and the
`suanli-scheduler` one that calls the extender) and KWOK run as detached daemons. Their pids and
ports live in `<state>/cluster.json`; an exclusive lock keeps two `up`/`down` from interleaving.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from suanli.devcluster import tools
from suanli.devcluster.daemons import (
    Starter,
    start_apiserver,
    start_controllers,
    start_etcd,
    write_files,
)
from suanli.devcluster.processes import (
    ClusterError,
    ProcessRecord,
    free_port,
    is_alive,
    port_in_use,
    stop,
)
from suanli.devcluster.statefile import (
    ClusterState,
    Ports,
    locked,
    read_state,
    state_file,
    write_state,
)


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path
    apiserver_port: int | None = None
    extender_port: int | None = None


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
        files = write_files(state_dir, ports)
        data = _etcd_data_dir(state_dir)
        shutil.rmtree(data, ignore_errors=True)
        starter = Starter(bin_dir, state_dir / "logs")
        try:
            start_etcd(starter, ports, data)
            start_apiserver(starter, ports, files)
            start_controllers(starter, ports, files)
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
    state_file(Path(state.state_dir)).unlink(missing_ok=True)


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
