"""The real local control plane, brought up once per test session.

Set SUANLI_REUSE_CLUSTER=1 to run against the control plane `suanli dev up` already started
(state in SUANLI_DEV_DIR or the default state folder); it is then left running afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from suanli.devcluster import cluster, nodes, statefile
from suanli.devcluster.processes import Daemon, free_port, stop
from suanli.fleet import Fleet, default_fleet


@dataclass(frozen=True)
class ControlPlane:
    state: statefile.ClusterState
    fleet: Fleet
    core: client.CoreV1Api

    @property
    def kubeconfig(self) -> Path:
        return Path(self.state.kubeconfig)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(Path(self.state.bin_dir) / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            input=stdin,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


# This session's folder of state and logs, once made; and where each Suanli daemon's log stood
# when the running test began (what it wrote during a failed test goes into the report).
SESSION_DIRS: list[Path] = []
_LOG_MARKS: dict[Path, int] = {}
_LOG_LINES_SHOWN = 200


def _daemon_logs() -> list[Path]:
    return [log for path in SESSION_DIRS for log in sorted(path.glob("*.log"))]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _LOG_MARKS.clear()
    _LOG_MARKS.update({log: log.stat().st_size for log in _daemon_logs()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for log in _daemon_logs():
        with log.open("rb") as written:
            written.seek(_LOG_MARKS.get(log, 0))
            lines = written.read().decode(errors="replace").splitlines()
        shown = "\n".join(lines[-_LOG_LINES_SHOWN:])
        report.sections.append(
            (f"{log.name} during the test (last {_LOG_LINES_SHOWN} lines)", shown)
        )


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    """State and logs of this session's daemons. Not under pytest's basetemp: another pytest
    run on the machine prunes old basetemps, and would pull the kubeconfig from under us."""
    path = Path(tempfile.mkdtemp(prefix="suanli-it-"))
    SESSION_DIRS.append(path)
    yield path
    SESSION_DIRS.remove(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def control_plane(session_dir: Path) -> Iterator[ControlPlane]:
    fleet = default_fleet()
    if os.environ.get("SUANLI_REUSE_CLUSTER") == "1":
        state, running = cluster.status(statefile.default_state_dir())
        assert state is not None, "SUANLI_REUSE_CLUSTER=1 but no control plane was started"
        assert running, "SUANLI_REUSE_CLUSTER=1 but the control plane is not running"
        yield ControlPlane(state, fleet, nodes.core_api(Path(state.kubeconfig)))
        return
    state_dir = session_dir / "control-plane"
    state = cluster.up(cluster.UpOptions(state_dir=state_dir))
    try:
        count = nodes.apply_fleet(Path(state.kubeconfig), fleet)
        nodes.wait_nodes_ready(Path(state.kubeconfig), count)
        yield ControlPlane(state, fleet, nodes.core_api(Path(state.kubeconfig)))
    finally:
        cluster.down(state_dir)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _stop_daemon(daemon: Daemon | None) -> None:
    if daemon is not None:
        stop(daemon.record())
        daemon.process.wait()


@dataclass
class Extender:
    """The Suanli extender as its own process, on the port the suanli-scheduler calls."""

    control_plane: ControlPlane
    log: Path
    daemon: Daemon | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.control_plane.state.ports.extender}"

    def start(self) -> None:
        self.daemon = Daemon.start(
            "suanli-extender",
            [
                sys.executable,
                "-m",
                "suanli",
                "extender",
                f"--kubeconfig={self.control_plane.kubeconfig}",
                f"--port={self.control_plane.state.ports.extender}",
            ],
            self.log,
        )
        self.daemon.wait_until(lambda: _http_ok(f"{self.url}/readyz"), 60, "ready")

    def stop(self) -> None:
        _stop_daemon(self.daemon)
        self.daemon = None

    def metrics(self) -> str:
        return _http_text(f"{self.url}/metrics")


@pytest.fixture(scope="session")
def extender(control_plane: ControlPlane, session_dir: Path) -> Iterator[Extender]:
    """A running extender; tests that stop it must start it again before they end."""
    running = Extender(control_plane, session_dir / "extender.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def computejob_crd(control_plane: ControlPlane) -> None:
    """The ComputeJob and ComputeQueue CRDs, applied as a user would and waited on until they
    are served."""
    crds = Path(__file__).parents[2] / "crds"
    for plural in ("computejobs", "computequeues"):
        crd = crds / f"suanli.dev_{plural}.yaml"
        control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
    control_plane.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/computejobs.suanli.dev",
        "crd/computequeues.suanli.dev",
    )


OPERATOR_NAMESPACE = "suanli-system"


# Operators started in this session, so a test that writes a job's status itself can stop them.
STARTED_OPERATORS: list[Operator] = []


@dataclass
class Operator:
    """`suanli operator` as its own process (one replica; tests may start more)."""

    control_plane: ControlPlane
    log_dir: Path
    identity: str = "operator-0"
    args: tuple[str, ...] = ()
    daemon: Daemon | None = None
    port: int = 0
    webhook_port: int = 0
    starts: int = 0

    def start(self, ready: bool = True) -> None:
        """Start and wait until healthy, and with `ready` until /readyz says it serves."""
        self.port = free_port()
        self.webhook_port = free_port()
        self.starts += 1
        self.daemon = Daemon.start(
            f"suanli-operator-{self.identity}",
            [
                sys.executable,
                "-m",
                "suanli",
                "operator",
                # Its own user, which the admission policy trusts, as an install's operator.
                f"--kubeconfig={self.control_plane.state.operator_kubeconfig or self.control_plane.kubeconfig}",
                f"--namespace={OPERATOR_NAMESPACE}",
                f"--identity={self.identity}",
                "--metrics-host=127.0.0.1",
                f"--metrics-port={self.port}",
                f"--webhook-port={self.webhook_port}",
                *self.args,
            ],
            self.log_dir / f"operator-{self.identity}.log",
        )
        if self not in STARTED_OPERATORS:
            STARTED_OPERATORS.append(self)
        healthz = f"http://127.0.0.1:{self.port}/healthz"
        self.daemon.wait_until(lambda: _http_ok(healthz), 60, "healthy")
        if ready:
            self.daemon.wait_until(self.ready, 60, "ready")

    def ready(self) -> bool:
        return _http_ok(f"http://127.0.0.1:{self.port}/readyz")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no Lease release — a crash."""
        if self.daemon is not None:
            os.killpg(self.daemon.process.pid, signal.SIGKILL)
            self.daemon.process.wait()
            self.daemon = None

    def stop(self) -> None:
        _stop_daemon(self.daemon)
        self.daemon = None

    def metrics(self) -> str:
        return _http_text(f"http://127.0.0.1:{self.port}/metrics")


@pytest.fixture(scope="session")
def operator(
    control_plane: ControlPlane,
    computejob_crd: None,
    extender: Extender,
    session_dir: Path,
) -> Iterator[Operator]:
    """A running operator (with the extender placing its pods); tests that stop it restart it."""
    try:
        control_plane.core.create_namespace({"metadata": {"name": OPERATOR_NAMESPACE}})  # type: ignore[arg-type]
    except client.exceptions.ApiException as error:
        if error.status != 409:
            raise
    running = Operator(control_plane, session_dir)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def operators_stopped() -> Iterator[None]:
    """No operator of this session runs inside the block (the ones that ran are started again
    after): for tests that write a job's status themselves, or run an operator of their own."""
    running = [o for o in STARTED_OPERATORS if o.daemon is not None]
    for started in running:
        started.stop()
    try:
        yield
    finally:
        for started in running:
            started.start()


@pytest.fixture
def no_operator() -> Iterator[None]:
    with operators_stopped():
        yield
