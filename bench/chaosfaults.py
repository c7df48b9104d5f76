"""The faults the suite injects into a running local control plane, and when.

- `extender`: SIGKILL Suanli's extender, start it again with the same command line;
- `operator`: the same for the operator;
- `scheduler`: the same for the kube-scheduler that calls the extender;
- `apiserver`: SIGSTOP kube-apiserver for a while, then SIGCONT.

A restarted process replaces its record in the control plane's state file, so `suanli dev down`
(and the suite's own cleanup) stops the new one.
"""

from __future__ import annotations

import os
import random
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from suanli.devcluster.processes import Daemon, ProcessRecord, is_alive, stop
from suanli.devcluster.statefile import ClusterState, locked, read_state, write_state


class FaultKind(StrEnum):
    EXTENDER = "extender"
    OPERATOR = "operator"
    SCHEDULER = "scheduler"
    APISERVER = "apiserver"


PROCESS_OF = {
    FaultKind.EXTENDER: "suanli-extender",
    FaultKind.OPERATOR: "suanli-operator",
    FaultKind.SCHEDULER: "suanli-kube-scheduler",
    FaultKind.APISERVER: "kube-apiserver",
}


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the suite's start
    kind: FaultKind


def schedule(
    counts: Mapping[FaultKind, int],
    start: float,
    end: float,
    seed: int,
    min_gap: float,
) -> list[Fault]:
    """`counts[kind]` faults of each kind at random moments in [start, end], in time order, no
    two closer than `min_gap` (the window must leave room for that)."""
    total = sum(counts.values())
    if total == 0:
        return []
    room = (end - start) - min_gap * (total - 1)
    if room < 0:
        raise ValueError(
            f"{total} faults at least {min_gap:.0f} s apart do not fit in {end - start:.0f} s"
        )
    rng = random.Random(seed)
    # Random points in the room left after the gaps, then the gaps put back: uniform and spaced.
    points = sorted(rng.uniform(0, room) for _ in range(total))
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    rng.shuffle(kinds)
    return [
        Fault(at=round(start + point + i * min_gap, 1), kind=kind)
        for i, (point, kind) in enumerate(zip(points, kinds, strict=True))
    ]


def _ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _flag(argv: list[str], name: str) -> str | None:
    prefix = f"--{name}="
    return next((arg[len(prefix) :] for arg in argv if arg.startswith(prefix)), None)


def _ready_check(kind: FaultKind, argv: list[str]) -> Callable[[], bool]:
    """How to tell that the restarted process serves again."""
    if kind is FaultKind.EXTENDER:
        return lambda: _ok(f"http://127.0.0.1:{_flag(argv, 'port')}/readyz")
    if kind is FaultKind.OPERATOR:
        return lambda: _ok(f"http://127.0.0.1:{_flag(argv, 'metrics-port')}/healthz")
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{_flag(argv, 'secure-port')}/healthz"
    return lambda: _ok(url, insecure)


class Injector:
    """Injects faults into the control plane whose state lives in `state_dir`."""

    def __init__(self, state_dir: Path, pause_seconds: float, ready_timeout: float = 120) -> None:
        self.state_dir = state_dir
        self.pause_seconds = pause_seconds
        self.ready_timeout = ready_timeout
        self._stopped: ProcessRecord | None = None

    def _state(self) -> ClusterState:
        state = read_state(self.state_dir)
        if state is None:
            raise RuntimeError(f"no control plane in {self.state_dir}")
        return state

    def _record(self, name: str) -> ProcessRecord:
        live = (r for r in self._state().processes if r.name == name and is_alive(r))
        record = next(live, None)
        if record is None:
            raise RuntimeError(f"{name} is not running")
        return record

    def inject(self, kind: FaultKind) -> dict[str, Any]:
        """Inject one fault; returns what was done and how long until the part served again."""
        began = time.monotonic()
        if kind is FaultKind.APISERVER:
            self._pause(PROCESS_OF[kind])
            return {"kind": kind.value, "paused_s": self.pause_seconds}
        pid = self._restart(kind)
        return {
            "kind": kind.value,
            "new_pid": pid,
            "back_after_s": round(time.monotonic() - began, 1),
        }

    def _pause(self, name: str) -> None:
        record = self._record(name)
        self._stopped = record
        os.kill(record.pid, signal.SIGSTOP)
        try:
            time.sleep(self.pause_seconds)
        finally:
            self.resume()

    def resume(self) -> None:
        """SIGCONT whatever this injector stopped (also on the way out of an interrupted run)."""
        if self._stopped is not None:
            os.kill(self._stopped.pid, signal.SIGCONT)
            self._stopped = None

    def _restart(self, kind: FaultKind) -> int:
        name = PROCESS_OF[kind]
        record = self._record(name)
        argv = Path(f"/proc/{record.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        command = [arg.decode() for arg in argv]
        os.killpg(record.pid, signal.SIGKILL)
        stop(record, grace=0)  # waits until the whole group is gone and reaped
        daemon = Daemon.start(name, command, Path(record.log))
        new = daemon.record()
        with locked(self.state_dir):
            state = self._state()
            processes = [r for r in state.processes if r.name != name] + [new]
            write_state(state.model_copy(update={"processes": processes}))
        daemon.wait_until(_ready_check(kind, command), self.ready_timeout, "ready")
        return new.pid
