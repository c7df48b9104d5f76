"""`suanli dev up|status|down` from the command line, on a control plane of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from suanli.devcluster.processes import group_members, is_alive, is_listening
from suanli.devcluster.statefile import ClusterState


def _suanli(state_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SUANLI_DEV_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "suanli", "dev", f"--state-dir={state_dir}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_up_refuses_a_second_start_and_down_leaves_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "dev"
    started = _suanli(state_dir, "up", "--nodes=14")
    assert started.returncode == 0, started.stderr
    assert "14 nodes Ready" in started.stdout
    state = ClusterState.model_validate_json((state_dir / "cluster.json").read_text())
    try:
        assert _suanli(state_dir, "status").returncode == 0
        again = _suanli(state_dir, "up")
        assert again.returncode == 1
        assert "already running" in again.stderr
        assert all(is_alive(record) for record in state.processes), "second up disturbed the first"
    finally:
        stopped = _suanli(state_dir, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(is_alive(record) or group_members(record.pid) for record in state.processes)
    ports = state.ports.model_dump()
    ports.pop("extender")  # nothing listens there until the extender runs
    assert [name for name, port in ports.items() if is_listening(port)] == []
    assert not Path(state.etcd_data).exists()
    assert _suanli(state_dir, "status").returncode == 3


def test_a_taken_apiserver_port_is_reported_not_hung_on(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        began = time.monotonic()
        result = _suanli(
            tmp_path / "dev", "up", "--no-fleet", f"--apiserver-port={port}", timeout=60
        )
    assert result.returncode == 1
    assert f"--apiserver-port {port}" in result.stderr
    assert "already in use" in result.stderr
    assert time.monotonic() - began < 30
    assert not (tmp_path / "dev" / "cluster.json").exists()


def test_a_bad_fleet_file_names_the_field(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("pools:\n  - name: gpu\n    count: 1\n    memory: 12 GB\n")
    result = _suanli(tmp_path / "dev", "up", f"--fleet={fleet}", timeout=60)
    assert result.returncode == 1
    assert "pools[0](gpu).memory" in result.stderr
    assert "not a Kubernetes quantity" in result.stderr
    assert not (tmp_path / "dev" / "cluster.json").exists()
