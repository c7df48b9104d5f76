"""What the web view shows, kept from watch events, and the deltas between two views. No I/O.

A view is keyed sections (nodes by name, jobs by namespace/name) and small whole sections (the
fleet and queue rows): a tick sends the keys whose value changed, so 5000 nodes of which a few
changed cost a few entries, not 5000.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.keys import JOB_LABEL, PLACEMENT_ANNOTATION
from suanli.state import ClusterFeed, pod_key
from suanli.view import explain_job, fleet_rows, node_cells, queue_rows
from suanli.view.explain import JobExplanation
from suanli.view.render import as_data

Json = Any
_KEYED = ("nodes", "jobs")
_WHOLE = ("kinds", "fleet", "queues")
# A job of thousands of pods shows its first placements; the rest are counted.
MAX_JOB_PLACEMENTS = 20


def _key(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}".lstrip("/")


def _job_of(pod: Mapping[str, Any]) -> str | None:
    metadata = pod.get("metadata") or {}
    job = (metadata.get("labels") or {}).get(JOB_LABEL)
    return f"{metadata.get('namespace') or 'default'}/{job}" if job else None


def _slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a pod its job's explanation reads (the placement annotation, node, phase)."""
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    return {
        "metadata": {
            "name": metadata.get("name"),
            "annotations": {k: v for k, v in annotations.items() if k == PLACEMENT_ANNOTATION},
        },
        "spec": {"nodeName": (pod.get("spec") or {}).get("nodeName")},
        "status": {"phase": (pod.get("status") or {}).get("phase")},
    }


def job_json(explained: JobExplanation, accelerator: str | None) -> Json:
    data = as_data(explained)
    placed = data.pop("placements")
    data["placed"] = len(placed)
    data["placements"] = placed[:MAX_JOB_PLACEMENTS]
    data["accelerator"] = accelerator
    return data


@dataclass
class UiModel:
    """The feed (nodes and bound pods), the ComputeJobs and ComputeQueues, and each job's pods."""

    feed: ClusterFeed
    jobs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    queues: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    pods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # job -> pod -> pod
    lock: threading.Lock = field(default_factory=threading.Lock)
    changes: int = 0  # bumped by every job, queue or pod event
    _last: tuple[tuple[int, int], dict[str, Json]] | None = None
    # job key -> (the job and pods it was built from, its JSON): rebuilt only when they change
    _jobs_built: dict[str, tuple[Mapping[str, Any], list[dict[str, Any]], Json]] = field(
        default_factory=dict
    )

    # --- watch handlers --------------------------------------------------------------------

    def replace_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        listed = list(pods)
        self.feed.replace_pods(listed)
        with self.lock:
            self.changes += 1
            self.pods.clear()
            for pod in listed:
                self._index(pod)

    def apply_pod(self, event: str, pod: Mapping[str, Any]) -> None:
        self.feed.apply_pod(event, pod)
        with self.lock:
            self.changes += 1
            job = _job_of(pod)
            if event == "DELETED" and job:
                self.pods.get(job, {}).pop(pod_key(pod), None)
            else:
                self._index(pod)

    def _index(self, pod: Mapping[str, Any]) -> None:
        job = _job_of(pod)
        if job:
            self.pods.setdefault(job, {})[pod_key(pod)] = _slim_pod(pod)

    def replace_jobs(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            self.changes += 1
            self.jobs = {_key(j): j for j in jobs}

    def apply_job(self, event: str, job: Mapping[str, Any]) -> None:
        with self.lock:
            self.changes += 1
            if event == "DELETED":
                self.jobs.pop(_key(job), None)
            else:
                self.jobs[_key(job)] = job

    def replace_queues(self, queues: Iterable[Mapping[str, Any]]) -> None:
        with self.lock:
            self.changes += 1
            self.queues = {_key(q): q for q in queues}

    def apply_queue(self, event: str, queue: Mapping[str, Any]) -> None:
        with self.lock:
            self.changes += 1
            if event == "DELETED":
                self.queues.pop(_key(queue), None)
            else:
                self.queues[_key(queue)] = queue

    # --- the view --------------------------------------------------------------------------

    def view(self) -> dict[str, Json]:
        """Everything the page shows, as JSON-ready data; the last one again while nothing
        changed (a quiet fleet costs nothing per tick)."""
        self.feed.prepare()
        with self.lock:
            version = (self.feed.state.generation, self.changes)
        if self._last is not None and self._last[0] == version:
            return self._last[1]
        built = self._build()
        self._last = (version, built)
        return built

    def _job(self, key: str, job: Mapping[str, Any], pods: list[dict[str, Any]]) -> Json:
        cached = self._jobs_built.get(key)
        if (
            cached is not None
            and cached[0] is job
            and len(cached[1]) == len(pods)
            and all(a is b for a, b in zip(cached[1], pods, strict=True))
        ):
            return cached[2]
        explained = job_json(
            explain_job(job, pods), (job.get("status") or {}).get("acceleratorType")
        )
        self._jobs_built[key] = (job, pods, explained)
        return explained

    def _build(self) -> dict[str, Json]:
        cells = node_cells(self.feed.state)
        kinds = sorted({c.kind for c in cells})
        index = {kind: i for i, kind in enumerate(kinds)}
        with self.lock:
            jobs = dict(self.jobs)
            queues = list(self.queues.values())
            pods = {job: list(by_pod.values()) for job, by_pod in self.pods.items()}
        view = {
            "kinds": [[k.accelerator, k.tier, k.site] for k in kinds],
            "nodes": {c.name: [index[c.kind], list(c.used)] for c in cells},
            "fleet": as_data(fleet_rows(cells)),
            "queues": [{**as_data(q), "usageText": q.usage_text} for q in queue_rows(queues)],
            "jobs": {key: self._job(key, job, pods.get(key, [])) for key, job in jobs.items()},
        }
        for gone in [k for k in self._jobs_built if k not in jobs]:
            del self._jobs_built[gone]
        return view


def delta(old: Mapping[str, Json], new: Mapping[str, Json]) -> dict[str, Json] | None:
    """What changed from `old` to `new`: changed and removed keys of the keyed sections, whole
    small sections; None when nothing did. A change of the node kinds renumbers them: then the
    whole view is sent again."""
    if old.get("kinds") != new.get("kinds"):
        return {"full": dict(new)}
    out: dict[str, Json] = {}
    for section in _KEYED:
        before, after = old.get(section) or {}, new.get(section) or {}
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        removed = [k for k in before if k not in after]
        if changed or removed:
            out[section] = {"changed": changed, "removed": removed}
    for section in _WHOLE:
        if old.get(section) != new.get(section):
            out[section] = new.get(section)
    return out or None
