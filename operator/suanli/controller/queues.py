"""ComputeQueues at the operator: the queues and namespace labels the watches report, which
queue a job belongs to, and the inputs of the admission cycle read from the cached jobs.

The cycle itself is `suanli.queueing` (pure). Admission lives in the jobs' status
(`status.admission`), so the usage of every queue is rebuilt from the API objects after a
restart and never counted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from suanli.api import ComputeJob, Phase
from suanli.api.queues import ComputeQueueSpec, NamespaceSelector, RuntimeHistory
from suanli.controller.cache import older
from suanli.controller.podspec import pod_manifest
from suanli.controller.quota import QuotaWait
from suanli.controller.slots import slots
from suanli.queueing import Charge, Holder, JobRequest
from suanli.queueing.runtime import RunLimits, record_run, run_limits
from suanli.scoring import Catalog, DemandError, parse_pod
from suanli.scoring.resources import CPU, MEMORY

_GIB = 1024**3
# A job in these phases holds no quota: finished, or suspended (its admission is released).
RELEASED_PHASES = frozenset({Phase.SUCCEEDED.value, Phase.FAILED.value, Phase.SUSPENDED.value})


def selects(selector: NamespaceSelector | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector matches a namespace's labels (absent: every namespace)."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for term in selector.match_expressions:
        present = term.key in labels
        value = labels.get(term.key)
        matched = {
            "In": present and value in term.values,
            "NotIn": not present or value not in term.values,
            "Exists": present,
            "DoesNotExist": not present,
        }[term.operator]
        if not matched:
            return False
    return True


class QueueBoard:
    """The ComputeQueues (parsed once per change) and the labels of every namespace."""

    def __init__(self) -> None:
        self.specs: dict[str, ComputeQueueSpec] = {}
        self.bodies: dict[str, dict[str, Any]] = {}
        self.invalid: dict[str, str] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.priority_classes: dict[str, int] = {}
        # Per queue, the run times of its succeeded jobs (`status.runtimeHistory`).
        self.histories: dict[str, RuntimeHistory] = {}
        self._requests: dict[tuple[str, str], tuple[Any, JobRequest | None]] = {}
        self._jobs: dict[tuple[str, str], tuple[Any, ComputeJob | None]] = {}

    def put_queue(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        """A queue as its watch or our own status write shows it; news older than what is held
        is dropped (a watch lags behind our writes, and a status built on its older news would
        write back spend that was charged since)."""
        name = str(body["metadata"]["name"])
        held = self.bodies.get(name)
        if not deleted and older(body, held):
            return
        if deleted:
            for known in (self.specs, self.invalid, self.bodies, self.histories):
                known.pop(name, None)
            return
        self.bodies[name] = dict(body)
        self._read_history(name, body)
        if held is not None and held.get("spec") == body.get("spec"):
            return  # a status write or its echo: the spec read before still stands
        self.specs.pop(name, None)
        self.invalid.pop(name, None)
        try:
            self.specs[name] = ComputeQueueSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            self.invalid[name] = str(error)

    def _read_history(self, name: str, body: Mapping[str, Any]) -> None:
        """The queue's history as its status says, unless this process has counted more jobs
        already (a watch event older than its own last write)."""
        raw = (body.get("status") or {}).get("runtimeHistory")
        try:
            found = RuntimeHistory.model_validate(raw) if raw else None
        except ValidationError:
            found = None
        known = self.histories.get(name)
        if found is not None and (known is None or found.jobs >= known.jobs):
            self.histories[name] = found

    def record_run(
        self, queue: str, started: dt.datetime, finished: dt.datetime
    ) -> dict[str, Any] | None:
        """Count a succeeded job's run in its queue's history; the status field to write
        (None: the queue is not known)."""
        body = self.bodies.get(queue)
        if body is None:
            return None
        history = record_run(self.histories.get(queue), started, finished)
        self.histories[queue] = history
        written = history.model_dump(mode="json", by_alias=True)
        # The cached status carries it from now on: queue status writes keep it as they found it.
        body["status"] = {**(body.get("status") or {}), "runtimeHistory": written}
        return written

    def put_namespace(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        name = str(body["metadata"]["name"])
        if deleted:
            self.namespaces.pop(name, None)
        else:
            self.namespaces[name] = dict(body["metadata"].get("labels") or {})

    def put_priority_class(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        name = str(body["metadata"]["name"])
        if deleted:
            self.priority_classes.pop(name, None)
        else:
            self.priority_classes[name] = int(body.get("value") or 0)

    def priority_of(self, spec: Mapping[str, Any]) -> int | None:
        """A job's priority: its PriorityClass's value or `priority` (None: the class named
        does not exist)."""
        name = spec.get("priorityClassName")
        if name:
            return self.priority_classes.get(str(name))
        return int(spec.get("priority") or 0)

    @property
    def active(self) -> bool:
        return bool(self.specs or self.invalid)

    def queue_of(self, job: ComputeJob, namespace: str) -> tuple[str | None, QuotaWait | None]:
        """The queue the job belongs to, or why it cannot be admitted by one; (None, None):
        no queue applies and the job is admitted at once."""
        labels = self.namespaces.get(namespace, {})
        name = job.spec.queue
        if name is None:
            defaults = sorted(
                n
                for n, q in self.specs.items()
                if q.default and selects(q.namespace_selector, labels)
            )
            return (defaults[0], None) if defaults else (None, None)
        if name in self.invalid:
            return name, QuotaWait(
                name, None, "QueueInvalid", f"queue {name} is invalid: {self.invalid[name]}"
            )
        spec = self.specs.get(name)
        if spec is None:
            return name, QuotaWait(
                name,
                None,
                "QueueNotFound",
                f"no ComputeQueue named {name}; create it or change spec.queue",
            )
        if not selects(spec.namespace_selector, labels):
            problem = (
                f"queue {name} does not take jobs from namespace {namespace} (namespaceSelector)"
            )
            return name, QuotaWait(name, None, "NamespaceNotAllowed", problem)
        return name, None

    def limits(self, job: ComputeJob, namespace: str) -> RunLimits:
        """The run times the job runs under: its own, else its queue's defaults."""
        queue, _ = self.queue_of(job, namespace)
        spec = self.specs.get(queue) if queue is not None else None
        history = self.histories.get(queue) if queue is not None else None
        return run_limits(job.spec.run_policy, queue, spec.runtime if spec else None, history)

    def request(
        self, body: Mapping[str, Any], job: ComputeJob, queue: str, catalog: Catalog
    ) -> JobRequest | None:
        """The job's whole request (remembered per spec generation); None when its pods cannot
        be read (the lifecycle reports that on the job)."""
        meta = body["metadata"]
        key = (str(meta["namespace"]), str(meta["name"]))
        priority = self.priority_of(body.get("spec") or {})
        if priority is None:
            return None
        version = (meta.get("uid"), meta.get("generation"), queue, id(catalog), priority)
        known = self._requests.get(key)
        if known is not None and known[0] == version:
            return known[1]
        found = job_request(job, meta, queue, catalog, priority)
        self._requests[key] = (version, found)
        return found

    def job_of(self, body: Mapping[str, Any]) -> ComputeJob | None:
        """The cached job parsed (remembered per spec generation: an admission cycle reads
        every waiting job, and parsing is most of its cost); None when it cannot be read."""
        meta = body["metadata"]
        key = (str(meta["namespace"]), str(meta["name"]))
        version = (meta.get("uid"), meta.get("generation"))
        known = self._jobs.get(key)
        if known is not None and known[0] == version:
            return known[1]
        try:
            found: ComputeJob | None = ComputeJob.model_validate(body)
        except ValueError:
            found = None
        self._jobs[key] = (version, found)
        return found

    def holder(self, key: tuple[str, str], body: Mapping[str, Any]) -> Holder | None:
        """A cached job as preemption sees it (None: it holds no quota)."""
        status = body.get("status") or {}
        charge = held_charge(status)
        if charge is None:
            return None
        spec = body.get("spec") or {}
        return Holder(
            key[0],
            key[1],
            charge,
            self.priority_of(spec) or 0,
            str(status["admission"].get("admittedAt") or ""),
            spec.get("preemptible", True) is not False,
        )

    def forget(self, key: tuple[str, str]) -> None:
        self._requests.pop(key, None)
        self._jobs.pop(key, None)


def job_request(
    job: ComputeJob, meta: Mapping[str, Any], queue: str, catalog: Catalog, priority: int
) -> JobRequest | None:
    """Every replica's devices, cores and GiB, and the accelerator types all its device
    tasks accept (canonical, in the first such task's order)."""
    devices = cpu = memory = 0.0
    types: list[str] | None = None
    first = {s.task: s for s in reversed(slots(job, str(meta["name"])))}
    for task in job.spec.tasks:
        try:
            demand = parse_pod(pod_manifest(job, dict(meta), first[task.name], catalog))
        except DemandError:
            return None
        cpu += task.replicas * demand.requests.amount(CPU) / 1000
        memory += task.replicas * demand.requests.amount(MEMORY) / _GIB
        if task.devices_per_pod:
            # A share charges its fraction of a device (0.25 GPU), as it holds only that.
            devices += task.replicas * demand.gpu.devices
            accepted = _canonical(task.accelerators.types if task.accelerators else [], catalog)
            if accepted:
                types = accepted if types is None else [t for t in types if t in accepted]
    return JobRequest(
        namespace=str(meta["namespace"]),
        name=str(meta["name"]),
        queue=queue,
        priority=priority,
        created=str(meta.get("creationTimestamp") or ""),
        devices=devices,
        types=tuple(types or ()),
        cpu=cpu,
        memory=memory,
    )


def _canonical(names: Iterable[str], catalog: Catalog) -> list[str]:
    found: list[str] = []
    for name in names:
        known = catalog.get(name)
        canonical = known.name if known is not None else name
        if canonical not in found:
            found.append(canonical)
    return found


def held_charge(status: Mapping[str, Any]) -> Charge | None:
    """What a cached job holds of its queue (None: nothing)."""
    admission = status.get("admission")
    if not admission or status.get("phase") in RELEASED_PHASES:
        return None
    return Charge(
        str(admission["queue"]),
        tuple((str(c["resource"]), float(c["amount"])) for c in admission.get("charged") or []),
        tuple(admission.get("acceleratorTypes") or ()),
    )
