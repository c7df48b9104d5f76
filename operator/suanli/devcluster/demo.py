"""`suanli demo`: the example ComputeJobs on the local fleet, and where each pod went and why."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suanli.devcluster.components import kubectl
from suanli.devcluster.processes import ClusterError
from suanli.devcluster.statefile import ClusterState

NAMESPACE = "suanli-demo"
_TERMINAL = ("Succeeded", "Failed")


def apply_examples(state: ClusterState, examples: Path) -> list[str]:
    files = sorted(examples.glob("*.yaml"))
    if not files:
        raise ClusterError(f"no example ComputeJobs in {examples}")
    if f"namespace/{NAMESPACE}" not in kubectl(state, "get", "namespaces", "-o", "name").split():
        kubectl(state, "create", "namespace", NAMESPACE)
    out = kubectl(state, "apply", "-n", NAMESPACE, "-f", str(examples))
    return [line.split()[0].split("/")[-1] for line in out.splitlines() if line.strip()]


def jobs(state: ClusterState) -> list[dict[str, Any]]:
    return list(
        json.loads(kubectl(state, "get", "computejobs", "-n", NAMESPACE, "-o", "json"))["items"]
    )


def wait_finished(
    state: ClusterState, timeout: float, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        current = jobs(state)
        summary = ", ".join(
            f"{j['metadata']['name']} {j.get('status', {}).get('phase', 'Pending')}"
            for j in current
        )
        if summary != last:
            progress(summary)
            last = summary
        if all(j.get("status", {}).get("phase") in _TERMINAL for j in current):
            return current
        if time.monotonic() > deadline:
            return current
        time.sleep(1)


def _why(breakdown: dict[str, float] | None) -> str:
    if not breakdown:
        return ""
    best = sorted(breakdown.items(), key=lambda item: (-item[1], item[0]))[:3]
    return " ".join(f"{k}={v:.2f}" for k, v in best)


def placement_table(current: list[dict[str, Any]]) -> str:
    rows = [("JOB", "PHASE", "POD", "NODE", "ACCEL", "SCORE", "STRONGEST SIGNALS", "COST")]
    for job in sorted(current, key=lambda j: j["metadata"]["name"]):
        status = job.get("status", {})
        cost = f"{status.get('costAccrued', 0):.4f}"
        placements = status.get("placements") or [{}]
        for p in placements:
            rows.append(
                (
                    job["metadata"]["name"],
                    status.get("phase", "Pending"),
                    p.get("pod", "-"),
                    p.get("node", status.get("unschedulable") or "-"),
                    p.get("acceleratorType") or "-",
                    str(p.get("score", "-")),
                    _why(p.get("breakdown")),
                    cost,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
