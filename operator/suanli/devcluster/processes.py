"""Start, watch and stop the control-plane daemons as detached process groups."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel


class ClusterError(RuntimeError):
    """The local control plane cannot do what was asked; the message says why and what to do."""


class ProcessRecord(BaseModel):
    """What is needed to find a started daemon again, safe against pid reuse."""

    name: str
    pid: int
    start_ticks: int
    log: str


def _start_ticks(pid: int) -> int | None:
    """The process start time from /proc, which tells a live daemon from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields resume after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_alive(record: ProcessRecord) -> bool:
    return _start_ticks(record.pid) == record.start_ticks


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server accepts connections on the port (unlike bind, blind to TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    """Ask the kernel for a free port; `avoid` keeps ports already handed out in this run apart."""
    if avoid is None:  # not `avoid or set()`: the caller's empty set must be the one filled
        avoid = set()
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            avoid.add(port)
            return port
    raise ClusterError("could not find a free port on 127.0.0.1")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Daemon:
    """A started process and its log; its own session, so a group kill reaches any child."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> Daemon:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **(env or {})},
                )
            except OSError as error:
                raise ClusterError(f"cannot start {name} ({argv[0]}): {error.strerror}") from None
        return cls(name, process, log)

    def record(self) -> ProcessRecord:
        ticks = _start_ticks(self.process.pid)
        if ticks is None:
            raise self.exited_error()
        return ProcessRecord(
            name=self.name, pid=self.process.pid, start_ticks=ticks, log=str(self.log)
        )

    def exited_error(self) -> ClusterError:
        code = self.process.poll()
        return ClusterError(
            f"{self.name} exited with code {code} while starting; last lines of {self.log}:\n"
            f"{log_tail(self.log)}"
        )

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` until it holds; fail fast when the daemon dies instead of waiting it out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.exited_error()
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(
            f"{self.name} did not become {what} within {timeout:.0f} s; last lines of {self.log}:\n"
            f"{log_tail(self.log)}"
        )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pgid)
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop(record: ProcessRecord, grace: float = 10.0) -> None:
    """SIGTERM the daemon's whole process group, then SIGKILL whatever outlives `grace`.

    Returns only when no process of the group is left, so nothing is orphaned.
    """
    if not is_alive(record) and not group_members(record.pid):
        return
    _signal_group(record.pid, signal.SIGTERM)
    if _wait_group_gone(record.pid, grace):
        return
    _signal_group(record.pid, signal.SIGKILL)
    if not _wait_group_gone(record.pid, 10.0):
        raise ClusterError(f"{record.name} (process group {record.pid}) survived SIGKILL")


def _reap(pid: int) -> None:
    """Collect the exit status when the daemon is our own child, so it leaves no zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
