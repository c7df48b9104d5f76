"""Jobs and pods as the apiserver would show them, for the pure lifecycle."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from suanli.api import ComputeJob

EXAMPLES = Path(__file__).parents[3] / "examples"
T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def example(name: str, **spec_updates: Any) -> tuple[ComputeJob, dict[str, Any]]:
    body = yaml.safe_load((EXAMPLES / name).read_text())
    body["spec"].update(spec_updates)
    body["metadata"].update(
        namespace="team",
        uid="uid-1",
        generation=1,
        creationTimestamp=T0.isoformat().replace("+00:00", "Z"),
    )
    return ComputeJob.model_validate(body), body["metadata"]


def with_status(job: ComputeJob, **status: Any) -> ComputeJob:
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["status"] = {**body.get("status", {}), **status}
    return ComputeJob.model_validate(body)


def pod(
    name: str, phase: str = "Pending", node: str | None = None, **annotations: str
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if phase in ("Running", "Succeeded", "Failed"):
        status["startTime"] = T0.isoformat().replace("+00:00", "Z")
    if phase in ("Succeeded", "Failed"):
        finished = (T0 + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        code = 0 if phase == "Succeeded" else 1
        status["containerStatuses"] = [
            {"state": {"terminated": {"finishedAt": finished, "exitCode": code}}}
        ]
    return copy.deepcopy(
        {
            "metadata": {
                "name": name,
                "namespace": "team",
                "annotations": annotations,
                "labels": {"suanli.dev/task": name.rsplit("-", 2)[-2]},
            },
            "spec": {"nodeName": node} if node else {},
            "status": status,
        }
    )
