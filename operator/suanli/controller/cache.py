"""ComputeJobs and their pods as the operator's watches report them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.state import planned_node_of

JobKey = tuple[str, str]


def job_key(body: Mapping[str, Any]) -> JobKey:
    return (str(body["metadata"]["namespace"]), str(body["metadata"]["name"]))


# What the operator reads of a container: its requests (for prices and promised capacity) and,
# for init containers, whether it is a sidecar that keeps running.
_CONTAINER_FIELDS = ("name", "resources", "restartPolicy")
_SPEC_FIELDS = ("nodeName", "overhead", "tolerations", "schedulerName")
_ENDED = ("Succeeded", "Failed")


def _may_hold(pod: Mapping[str, Any]) -> bool:
    """Whether a pod holds room somewhere: bound and not ended, or pending with a planned node."""
    if (pod.get("status") or {}).get("phase") in _ENDED:
        return False
    if (pod.get("spec") or {}).get("nodeName"):
        return True
    return planned_node_of(pod) is not None


def slim_pod(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a pod the lifecycle, prices and gang admission read.

    A job of thousands of pods is held whole in memory; the pod's template (commands,
    environment, volumes) and the server's managedFields are most of each object and are never
    read after creation.
    """
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    spec = body.get("spec") or {}
    slim = {k: spec[k] for k in _SPEC_FIELDS if k in spec}
    for key in ("containers", "initContainers"):
        if isinstance(spec.get(key), list):
            slim[key] = [
                {k: c[k] for k in _CONTAINER_FIELDS if k in c}
                for c in spec[key]
                if isinstance(c, Mapping)
            ]
    pod: dict[str, Any] = {"metadata": metadata, "spec": slim}
    if "status" in body:
        pod["status"] = body["status"]
    return pod


def _version(body: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """The object's uid and resourceVersion, when the version is an integer (etcd's revision,
    as every apiserver gives it; ordered the way client-go's integer mutation cache orders it)."""
    if body is None:
        return None
    text = str((body.get("metadata") or {}).get("resourceVersion") or "")
    return (_uid(body), int(text)) if text.isdigit() else None


def _uid(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid") or "")


def _order(body: Mapping[str, Any], than: Mapping[str, Any] | None) -> int | None:
    """Where `body` stands against `than`: -1 earlier, 0 the same state, 1 later; None when they
    cannot be ordered (another object of the same name, or a version that is not an integer)."""
    mine, theirs = _version(body), _version(than)
    if mine is None or theirs is None or mine[0] != theirs[0]:
        return None
    return (mine[1] > theirs[1]) - (mine[1] < theirs[1])


def newer(body: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    """Whether `body` is a later state of the object than `than`, or cannot be ordered."""
    order = _order(body, than)
    return order is None or order > 0


def older(body: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    """Whether `body` is an earlier state of the object than `than`."""
    order = _order(body, than)
    return order is not None and order < 0


def _beyond_version(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object without what every write changes (its version and the field managers)."""
    metadata = body.get("metadata") or {}
    kept = {k: v for k, v in metadata.items() if k not in ("resourceVersion", "managedFields")}
    return {**body, "metadata": kept}


@dataclass
class JobCache:
    """ComputeJobs and their pods as the watches report them (plain dicts; pods slimmed)."""

    jobs: dict[JobKey, dict[str, Any]] = field(default_factory=dict)
    pods: dict[JobKey, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # The pods that hold room (bound, or planned on a node), by "namespace/name" as the cluster
    # state keys them: promised capacity is what the state does not count yet, found by a set
    # difference instead of a walk over every pod of every job on each decision.
    holders: dict[str, tuple[JobKey, dict[str, Any]]] = field(default_factory=dict)
    # Status writes of ours in flight, by job, and the newest watch news of a job that came
    # while one was: a watch lags behind our writes, and news older than a write of ours must
    # never replace what that write decided (a preempted job seen holding its quota again).
    writing: dict[JobKey, int] = field(default_factory=dict)
    held_back: dict[JobKey, dict[str, Any]] = field(default_factory=dict)

    def _index(self, key: JobKey, name: str, pod: dict[str, Any] | None) -> None:
        ident = f"{key[0]}/{name}"
        if pod is not None and _may_hold(pod):
            self.holders[ident] = (key, pod)
        else:
            self.holders.pop(ident, None)

    def holds(self, body: Mapping[str, Any]) -> bool:
        """Whether a job's news says nothing the cache does not hold already, and needs no
        second look: the echo of the operator's own status write (the cache took that status
        when the decision was made), news older than what the cache holds, or news that came
        while a write of ours is in flight (`written` takes it then, if it is the newer)."""
        key = job_key(body)
        known = self.jobs.get(key)
        if known is None:
            return False
        if self.writing.get(key) or not newer(body, known):
            return True
        return _beyond_version(known) == _beyond_version(body)

    def writes(self, key: JobKey) -> None:
        """A status write of ours for the job is sent (`written` follows it, always)."""
        self.writing[key] = self.writing.get(key, 0) + 1

    def written(self, key: JobKey, stored: Mapping[str, Any] | None) -> bool:
        """A status write of ours came back with the job as stored (None: no answer, or the job
        is gone): the cache keeps the newest of what it held, that answer and the news held
        back meanwhile. True when news from someone else came meanwhile, newer than the write:
        the job needs another look."""
        left = self.writing.get(key, 1) - 1
        if left:
            self.writing[key] = left
        else:
            self.writing.pop(key, None)
        known = self.jobs.get(key)
        if known is None:
            return False  # deleted meanwhile
        if stored is not None and _uid(stored) == _uid(known) and newer(stored, known):
            self.jobs[key] = known = dict(stored)
        if left:
            return False
        news = self.held_back.pop(key, None)
        if news is None or not newer(news, known):
            return False
        self.jobs[key] = news
        return True

    def put_job(self, body: Mapping[str, Any], deleted: bool = False) -> JobKey:
        key = job_key(body)
        if deleted:
            self.jobs.pop(key, None)
            self.held_back.pop(key, None)
            # Manifests of pods never created (the job went first) would hold their planned
            # nodes for no one: no watch event will ever remove them.
            pods = self.pods.get(key, {})
            for name in [n for n, p in pods.items() if not p["metadata"].get("resourceVersion")]:
                del pods[name]
                self._index(key, name, None)
        elif key in self.writing and key in self.jobs:
            held = self.held_back.get(key)
            if held is None or newer(body, held):
                self.held_back[key] = dict(body)
        elif not older(body, self.jobs.get(key)):
            # The echo of our own write too: the same state, and the watch's copy shares its
            # parts with what kopf keeps of the job (the write's answer would be a second copy).
            self.jobs[key] = dict(body)
        return key

    def put_pod(self, body: Mapping[str, Any], job: str, deleted: bool = False) -> JobKey:
        key = (str(body["metadata"]["namespace"]), job)
        pods = self.pods.setdefault(key, {})
        name = str(body["metadata"]["name"])
        if deleted:
            pods.pop(name, None)
            self._index(key, name, None)
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
        pods[name] = slim = slim_pod(body)
        self._index(key, name, slim)
        return key

    def forget_manifest(self, body: Mapping[str, Any], job: str) -> None:
        """Drop our manifest of a pod the apiserver refused or that was held back (never a pod a
        watch has shown)."""
        key = (str(body["metadata"]["namespace"]), job)
        name = str(body["metadata"]["name"])
        known = self.pods.get(key, {}).get(name)
        if known is not None and not known["metadata"].get("resourceVersion"):
            del self.pods[key][name]
            self._index(key, name, None)

    def replace_job_pods(self, key: JobKey, pods: Iterable[Mapping[str, Any]]) -> None:
        """One job's pods as a fresh list shows them."""
        for name in self.pods.get(key, {}):
            self._index(key, name, None)
        self.pods[key] = {str(p["metadata"]["name"]): slim_pod(p) for p in pods}
        for name, pod in self.pods[key].items():
            self._index(key, name, pod)

    def replace_pods(self, pods: Iterable[tuple[Mapping[str, Any], str]]) -> set[JobKey]:
        """Every job's pods as a fresh list shows them (pod, job); the jobs whose pods changed."""
        listed: dict[JobKey, dict[str, dict[str, Any]]] = {}
        for body, job in pods:
            key = (str(body["metadata"]["namespace"]), job)
            listed.setdefault(key, {})[str(body["metadata"]["name"])] = slim_pod(body)
        touched = {k for k in self.pods.keys() | listed.keys() if self.pods.get(k) != listed.get(k)}
        # In place: the quota gate reads the same mapping.
        self.pods.clear()
        self.pods.update(listed)
        self.holders.clear()
        for key, named in listed.items():
            for name, pod in named.items():
                self._index(key, name, pod)
        return touched
