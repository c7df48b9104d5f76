"""Daemons start detached, fail fast with their log, and stop without leaving anything behind."""

import socket
import sys
from pathlib import Path

import pytest

from suanli.devcluster.processes import (
    ClusterError,
    Daemon,
    free_port,
    group_members,
    is_alive,
    port_in_use,
    stop,
)


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_free_ports_are_distinct() -> None:
    taken: set[int] = set()
    ports = [free_port(avoid=taken) for _ in range(20)]
    assert len(set(ports)) == 20
    assert not any(port_in_use(p) for p in ports)


def test_daemon_and_its_children_are_stopped(tmp_path: Path) -> None:
    # A parent that ignores SIGTERM and keeps a child: the group kill must reach both.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    daemon = Daemon.start("sleeper", [sys.executable, "-c", script], tmp_path / "sleeper.log")
    daemon.wait_until(lambda: (tmp_path / "sleeper.log").read_text().strip() != "", 10, "started")
    record = daemon.record()
    child_pid = int((tmp_path / "sleeper.log").read_text().split()[0])
    assert is_alive(record)
    assert child_pid in group_members(record.pid)
    stop(record, grace=0.5)
    assert not is_alive(record)
    assert group_members(record.pid) == []


def test_a_daemon_that_dies_reports_its_log(tmp_path: Path) -> None:
    daemon = Daemon.start(
        "broken",
        [sys.executable, "-c", "import sys; print('bind: address already in use'); sys.exit(2)"],
        tmp_path / "broken.log",
    )
    with pytest.raises(ClusterError, match="broken exited with code 2") as caught:
        daemon.wait_until(lambda: False, 10, "ready")
    assert "address already in use" in str(caught.value)


def test_a_daemon_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    daemon = Daemon.start(
        "slow", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "slow.log"
    )
    try:
        with pytest.raises(ClusterError, match="did not become ready within 1 s"):
            daemon.wait_until(lambda: False, 1, "ready")
    finally:
        stop(daemon.record(), grace=1)


def test_a_missing_binary_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="cannot start ghost"):
        Daemon.start("ghost", [str(tmp_path / "nope")], tmp_path / "ghost.log")
