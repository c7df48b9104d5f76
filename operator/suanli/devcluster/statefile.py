"""The local control plane's state file (`<state>/cluster.json`: its ports, daemons and
kubeconfigs) and the lock that keeps two `suanli dev` commands from interleaving."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from suanli.devcluster.processes import ClusterError, ProcessRecord

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


def state_file(state_dir: Path) -> Path:
    return state_dir / "cluster.json"


def read_state(state_dir: Path) -> ClusterState | None:
    path = state_file(state_dir)
    if not path.is_file():
        return None
    return ClusterState.model_validate_json(path.read_text())


def dev_state(state_dir: Path) -> ClusterState:
    """The local control plane a daemon started with `--dev` serves; ClusterError when none."""
    state = read_state(state_dir)
    if state is None:
        raise ClusterError(f"--dev: no local control plane in {state_dir}; run `suanli dev up`")
    return state


def write_state(state: ClusterState) -> None:
    state_file(Path(state.state_dir)).write_text(state.model_dump_json(indent=2))


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
