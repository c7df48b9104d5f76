"""Suanli itself on the local control plane: the CRD, the extender and the operator as daemons
recorded beside the control plane's, so `suanli dev down` stops them too."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from suanli.api.crd import RESOURCES, render
from suanli.devcluster.admission import policy_objects
from suanli.devcluster.processes import ClusterError, Daemon, free_port, is_alive
from suanli.devcluster.statefile import OPERATOR_USER, ClusterState, locked, write_state

OPERATOR_NAMESPACE = "suanli-system"
COMPONENTS = ("suanli-extender", "suanli-operator")
_TIMEOUT = 60.0


def kubectl(state: ClusterState, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(Path(state.bin_dir) / "kubectl"), f"--kubeconfig={state.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def install_crd(state: ClusterState) -> None:
    for resource in RESOURCES.values():
        kubectl(
            state, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=render(resource)
        )
    kubectl(
        state,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(f"crd/{resource.name}" for resource in RESOURCES.values()),
    )
    namespaces = kubectl(state, "get", "namespaces", "-o", "name")
    if f"namespace/{OPERATOR_NAMESPACE}" not in namespaces.split():
        kubectl(state, "create", "namespace", OPERATOR_NAMESPACE)


def install_admission_policy(state: ClusterState) -> None:
    """The chart's admission policy, trusting the dev operator's own user as an install trusts
    the operator's ServiceAccount. A control plane started before the operator had its own
    identity runs it as the admin, which the policy would refuse, so it gets none."""
    if not state.operator_kubeconfig:
        return
    objects = {"apiVersion": "v1", "kind": "List", "items": policy_objects([OPERATOR_USER])}
    kubectl(
        state, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=json.dumps(objects)
    )


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _start(state: ClusterState, name: str, args: list[str], ready_url: str) -> Daemon:
    log = Path(state.state_dir) / "logs" / f"{name}.log"
    daemon = Daemon.start(name, [sys.executable, "-m", "suanli", *args], log)
    daemon.wait_until(lambda: _ok(ready_url), _TIMEOUT, "ready")
    return daemon


def start_suanli(state: ClusterState) -> ClusterState:
    """Install the CRD, start the extender and the operator; refuse if they already run."""
    with locked(Path(state.state_dir)):
        running = [r.name for r in state.processes if r.name in COMPONENTS and is_alive(r)]
        if running:
            raise ClusterError(f"{', '.join(running)} already running; `suanli dev down` first")
        install_crd(state)
        install_admission_policy(state)
        kubeconfig = f"--kubeconfig={state.kubeconfig}"
        extender_port = state.ports.extender
        extender = _start(
            state,
            "suanli-extender",
            ["extender", kubeconfig, f"--port={extender_port}"],
            f"http://127.0.0.1:{extender_port}/readyz",
        )
        metrics_port = free_port()
        operator = _start(
            state,
            "suanli-operator",
            [
                "operator",
                f"--kubeconfig={state.operator_kubeconfig or state.kubeconfig}",
                f"--namespace={OPERATOR_NAMESPACE}",
                "--identity=suanli-dev",
                "--metrics-host=127.0.0.1",
                f"--metrics-port={metrics_port}",
                f"--webhook-port={free_port()}",
            ],
            f"http://127.0.0.1:{metrics_port}/healthz",
        )
        kept = [r for r in state.processes if r.name not in COMPONENTS]
        updated = state.model_copy(
            update={"processes": [*kept, extender.record(), operator.record()]}
        )
        write_state(updated)
        return updated
