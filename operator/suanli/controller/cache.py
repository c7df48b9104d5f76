"""ComputeJobs and their pods as the operator's watches report them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JobKey = tuple[str, str]


def job_key(body: Mapping[str, Any]) -> JobKey:
    return (str(body["metadata"]["namespace"]), str(body["metadata"]["name"]))


@dataclass
class JobCache:
    """ComputeJobs and their pods as the watches report them (plain dicts)."""

    jobs: dict[JobKey, dict[str, Any]] = field(default_factory=dict)
    pods: dict[JobKey, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def put_job(self, body: Mapping[str, Any], deleted: bool = False) -> JobKey:
        key = job_key(body)
        if deleted:
            self.jobs.pop(key, None)
        else:
            self.jobs[key] = dict(body)
        return key

    def put_pod(self, body: Mapping[str, Any], job: str, deleted: bool = False) -> JobKey:
        key = (str(body["metadata"]["namespace"]), job)
        pods = self.pods.setdefault(key, {})
        name = str(body["metadata"]["name"])
        if deleted:
            pods.pop(name, None)
            return key
        known = pods.get(name)
        # Our own manifest of a pod just created never replaces what a watch has already shown
        # of it (the watch can be quicker than the create call's return).
        if (
            known is not None
            and known.get("metadata", {}).get("resourceVersion")
            and not body["metadata"].get("resourceVersion")
        ):
            return key
        pods[name] = dict(body)
        return key
