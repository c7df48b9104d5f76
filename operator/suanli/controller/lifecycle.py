"""The ComputeJob state machine, level-triggered: observed job and pods in, actions out.

Pure. Every call recomputes the wanted state from what exists, so a restart at any moment
(between pod creations, during a status update) resumes where the cluster is, not where memory
was. Pod names are deterministic, so a repeated create is refused by the apiserver, never doubled.

Phases: Pending -> Queued (a gang waits for a full placement) -> Scheduling -> Running ->
Succeeded | Failed, and Suspended while `runPolicy.suspend` is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.api import (
    ComputeJob,
    ComputeJobStatus,
    ConditionStatus,
    Phase,
    ready_text,
)
from suanli.api.durations import text as duration_text
from suanli.controller.admission import Admission
from suanli.controller.conditions import MAX_MESSAGE as _MAX_REASON
from suanli.controller.conditions import condition as _condition
from suanli.controller.conditions import set_condition as _set_condition
from suanli.controller.mpi import held_launchers, layout
from suanli.controller.podstatus import cost, data_placed, placements, summary, unschedulable
from suanli.controller.podstatus import deleting as _deleting
from suanli.controller.podstatus import parse_time as _time
from suanli.controller.podstatus import pod_name as _name
from suanli.controller.podstatus import pod_names as _names
from suanli.controller.podstatus import pod_node as _node
from suanli.controller.podstatus import pod_phase as _phase
from suanli.controller.podstatus import pod_ready as _ready
from suanli.controller.quota import (
    QUOTA_CONDITION,
    QuotaVerdict,
    QuotaWait,
    admission_fields,
    describe,
    quota_condition,
    waiting_message,
)
from suanli.controller.slots import PodSlot, slots
from suanli.queueing.runtime import RunLimits

_TERMINAL = (Phase.SUCCEEDED, Phase.FAILED)
# How often the accrued cost of a running job is brought up to date.
COST_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class PodToCreate:
    slot: PodSlot
    attempt: int
    planned_node: str | None = None


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Actions:
    create: list[PodToCreate] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    status: ComputeJobStatus = field(default_factory=ComputeJobStatus)
    events: list[Event] = field(default_factory=list)
    delete_job: bool = False
    # When time alone will change something (a deadline, a gang timeout, the TTL, cost): look again.
    requeue_after: float | None = None


@dataclass(frozen=True)
class Observed:
    job: ComputeJob
    meta: Mapping[str, Any]
    pods: Sequence[Mapping[str, Any]]
    now: dt.datetime
    admit: Callable[[list[PodSlot]], Admission]
    # Price per hour of a bound pod, and the canonical accelerator type of a node.
    price_of: Callable[[Mapping[str, Any]], float] = lambda _pod: 0.0
    accelerator_of: Callable[[str], str | None] = lambda _node: None
    # The job's standing in its ComputeQueue; None: it is not queued (no queue applies).
    quota: QuotaVerdict | None = None
    # For a job without a gang: None to create its pods as they come, else the backfill
    # verdict (a plan, or why it waits) while jobs wait ahead of it.
    gate: Callable[[list[PodSlot]], Admission | None] = lambda _missing: None
    # The run times it runs under (its own, or its queue's defaults).
    limits: RunLimits = field(default_factory=RunLimits)
    # Of a gang's pods that kube-scheduler refused, the names of those whose planned node has
    # no room for them any more in the operator's view of the cluster.
    rooms_gone: Callable[[list[Mapping[str, Any]]], list[str]] = lambda _pods: []


# --- the state machine --------------------------------------------------------------------------


class _Reconciler:
    def __init__(self, observed: Observed) -> None:
        self.o = observed
        self.spec = observed.job.spec
        previous = observed.job.status or ComputeJobStatus()
        self.previous = previous
        self.actions = Actions()
        # Status models are immutable: build the new status as fields, validate once at the end.
        self.s: dict[str, Any] = dict(previous)
        self.live = [p for p in observed.pods if not _deleting(p)]
        self.slots = slots(observed.job, str(observed.meta["name"]))
        self.mpi = layout(observed.job, observed.meta)

    def run(self) -> Actions:
        if self.previous.phase in _TERMINAL:
            self._finished()
        elif self.spec.run_policy.suspend:
            self._suspend()
        elif self._deadline_passed():
            self._fail(
                "DeadlineExceeded",
                f"activeDeadlineSeconds ({self.spec.run_policy.active_deadline_seconds}) passed",
            )
        elif (over := self._over_time_limit()) is not None:
            limit = self.o.limits.time_limit_text
            source = self.o.limits.limit_source or "runPolicy.timeLimit"
            self._fail(
                "TimeLimitExceeded",
                f"ran {duration_text(over)}, past its time limit {limit} ({source}): pods stopped",
            )
        else:
            self._progress()
        self._observe()
        self.actions.status = ComputeJobStatus.model_validate(self.s)
        self.actions.requeue_after = self._next_look()
        return self.actions

    def _next_look(self) -> float | None:
        """Seconds until the clock alone changes this job's state, if it ever does."""
        now, s, policy = self.o.now, self.s, self.spec.run_policy
        moments: list[dt.datetime] = []
        if s["phase"] in _TERMINAL:
            if policy.ttl_seconds_after_finished is not None and s["completion_time"] is not None:
                moments.append(
                    s["completion_time"] + dt.timedelta(seconds=policy.ttl_seconds_after_finished)
                )
        else:
            start = s["start_time"] or _time(self.o.meta.get("creationTimestamp"))
            if policy.active_deadline_seconds is not None and start is not None:
                moments.append(start + dt.timedelta(seconds=policy.active_deadline_seconds + 1))
            began, limit = s["start_time"], self.o.limits.time_limit
            if limit is not None and began is not None:
                moments.append(began + dt.timedelta(seconds=limit + 1))
            admitted = next((c for c in s["conditions"] if c.type == "Admitted"), None)
            gang = self.spec.gang
            if (
                gang
                and admitted
                and admitted.status == ConditionStatus.TRUE
                and s["phase"] is not Phase.RUNNING
            ):
                moments.append(
                    admitted.last_transition_time + dt.timedelta(seconds=gang.timeout_seconds + 1)
                )
            if s["phase"] is Phase.RUNNING:
                moments.append(now + dt.timedelta(seconds=COST_REFRESH_SECONDS))
        if not moments:
            return None
        return max(0.0, (min(moments) - now).total_seconds())

    # Terminal and stopping states.

    def _finished(self) -> None:
        self._delete_running()
        ttl = self.spec.run_policy.ttl_seconds_after_finished
        done = self.s["completion_time"]
        if ttl is not None and done is not None and (self.o.now - done).total_seconds() >= ttl:
            self.actions.delete_job = True

    def _delete_running(self) -> None:
        self.actions.delete += [
            _name(p) for p in self.live if _phase(p) not in ("Succeeded", "Failed")
        ]

    def _suspend(self) -> None:
        self.actions.delete += [_name(p) for p in self.live]
        if self.s.get("admission") is not None:
            # A suspended job holds no quota; resuming queues it again.
            self.s["admission"] = None
            _set_condition(
                self.s,
                _condition(
                    self.s["conditions"],
                    QUOTA_CONDITION,
                    False,
                    "Suspended",
                    "suspended: the quota is released",
                    self.o.now,
                ),
            )
        self._enter(
            Phase.SUSPENDED, "Suspended", "runPolicy.suspend is set: pods deleted, job kept"
        )
        _set_condition(
            self.s,
            _condition(
                self.s["conditions"],
                "Suspended",
                True,
                "Suspended",
                "runPolicy.suspend is true",
                self.o.now,
            ),
        )

    def _deadline_passed(self) -> bool:
        limit = self.spec.run_policy.active_deadline_seconds
        start = self.s["start_time"] or _time(self.o.meta.get("creationTimestamp"))
        return (
            limit is not None and start is not None and (self.o.now - start).total_seconds() > limit
        )

    def _over_time_limit(self) -> float | None:
        """Seconds run, once past the time limit (counted from the job's start)."""
        limit, began = self.o.limits.time_limit, self.s["start_time"]
        if limit is None or began is None:
            return None
        ran = (self.o.now - began).total_seconds()
        return ran if ran > limit else None

    def _fail(self, reason: str, message: str) -> None:
        self.actions.delete += [_name(p) for p in self.live]
        self.s["completion_time"] = self.o.now
        self._enter(Phase.FAILED, reason, message)
        _set_condition(
            self.s,
            _condition(self.s["conditions"], "Failed", True, reason, message, self.o.now),
        )

    # Running states.

    def _progress(self) -> None:
        if any(
            c.type == "Suspended" and c.status == ConditionStatus.TRUE for c in self.s["conditions"]
        ):
            _set_condition(
                self.s,
                _condition(
                    self.s["conditions"],
                    "Suspended",
                    False,
                    "Resumed",
                    "runPolicy.suspend is false",
                    self.o.now,
                ),
            )
        if not self._restart_failed():
            return
        if not self._quota_allows():
            return
        by_name = {_name(p): p for p in self.live}
        missing = [s for s in self.slots if s.name not in by_name]
        if self._gang_timed_out(by_name):
            return
        held, waiting = self._held(by_name)
        # A job that waited (for quota, or for room) and now gets its pods leaves Queued in
        # this reconcile: left Queued, it would count as waiting for room ahead of every later
        # job's backfill until its pods' next event.
        if missing and not self._create(missing, held, fresh=not by_name):
            return
        self._phase_from_pods(by_name, pending_creation=bool(missing), waiting=waiting)

    def _held(self, by_name: Mapping[str, Mapping[str, Any]]) -> tuple[set[str], str | None]:
        """An MPI job's launcher pods that wait for the workers to be Ready, and why."""
        if self.mpi is None:
            return set(), None
        ready = [name for name, pod in by_name.items() if _ready(pod)]
        held, why = held_launchers(self.mpi, self.slots, by_name, ready)
        return set(held), why

    def _quota_allows(self) -> bool:
        """Record the job's standing in its queue; False while it waits for quota."""
        verdict = self.o.quota
        condition = quota_condition(self.s["conditions"], verdict, self.o.now)
        if verdict is None or condition is None:
            return True
        self.s.update(admission_fields(verdict))
        _set_condition(self.s, condition)
        if isinstance(verdict, QuotaWait):
            # A job without quota runs nothing (pods left by a preemption go too).
            self.actions.delete += [_name(p) for p in self.live]
            self._enter(Phase.QUEUED, "Queued", waiting_message(verdict))
            return False
        if self.previous.admission is None:
            self.actions.events.append(
                Event("Normal", "QuotaReserved", describe(verdict.admission))
            )
        return True

    def _restart_failed(self) -> bool:
        """Delete failed pods for a new attempt; False when the backoff limit is used up."""
        failed = [p for p in self.live if _phase(p) == "Failed"]
        if not failed:
            return True
        restarts = (self.s["restarts"] or 0) + len(failed)
        limit = self.spec.run_policy.backoff_limit
        if restarts > limit:
            names = ", ".join(sorted(_name(p) for p in failed))
            self._fail("BackoffLimitExceeded", f"pod(s) {names} failed after {limit} restarts")
            return False
        self.s["restarts"] = restarts
        self.actions.delete += [_name(p) for p in failed]
        self.live = [p for p in self.live if p not in failed]
        self.actions.events.append(
            Event(
                "Warning",
                "PodFailed",
                f"restarting failed pod(s) {_names(failed)} ({restarts}/{limit})",
            )
        )
        return True

    def _gang_timed_out(self, by_name: Mapping[str, Mapping[str, Any]]) -> bool:
        """Take a gang that is not fully placed down, to plan it again: once its timeout has
        passed, or as soon as a member's planned node no longer has room for it (a pod of
        another scheduler, or one bound before the extender saw the plan, took it)."""
        gang = self.spec.gang
        admitted = next((c for c in self.s["conditions"] if c.type == "Admitted"), None)
        if (
            gang is None
            or admitted is None
            or admitted.status != ConditionStatus.TRUE
            or not by_name
        ):
            return False
        bound = sum(1 for p in by_name.values() if _node(p))
        waited = (self.o.now - admitted.last_transition_time).total_seconds()
        # An MPI launcher is created only once its workers run, so it cannot hold the gang's
        # capacity while they wait: the timeout is about the other pods.
        launchers = sum(1 for s in self.slots if self.mpi and s.task == self.mpi.launcher)
        needed = min(gang.min_member, len(self.slots) - launchers)
        if bound >= needed:
            return False
        if waited > gang.timeout_seconds:
            reason = "GangTimeout"
            message = (
                f"only {bound} of {gang.min_member} gang pods were placed within "
                f"{gang.timeout_seconds} s; pods deleted, waiting for a full placement again"
            )
        else:
            refused = [p for p in by_name.values() if not _node(p) and _refused(p)]
            gone = self.o.rooms_gone(refused) if refused else []
            if not gone:
                return False
            reason = "PlannedRoomTaken"
            message = (
                f"the planned node of pod(s) {', '.join(sorted(gone))} no longer has room for "
                f"them (taken before the gang was bound); pods deleted, planning the gang again"
            )
        self.actions.delete += list(by_name)
        self.s["placements"] = []
        _set_condition(
            self.s,
            _condition(self.s["conditions"], "Admitted", False, reason, message, self.o.now),
        )
        self._enter(Phase.QUEUED, reason, message)
        self.s["unschedulable"] = unschedulable(list(by_name.values())) or message
        return True

    def _create(self, missing: list[PodSlot], held: set[str], fresh: bool) -> bool:
        """Create the missing pods but the held ones; a fresh gang is planned whole, held pods
        included, so it is admitted only when all of it fits. False: it waits for room."""
        attempt = (self.s["restarts"] or 0) + 1
        gang = self.spec.gang
        admission = None
        if fresh:
            # A gang is planned whole; any job with waiting jobs ahead passes backfill.
            admission = self.o.admit(missing) if gang else self.o.gate(missing)
        if admission is None:
            self.actions.create += [PodToCreate(s, attempt) for s in missing if s.name not in held]
            return True
        if not admission.admitted:
            _set_condition(
                self.s,
                _condition(
                    self.s["conditions"],
                    "Admitted",
                    False,
                    admission.code,
                    admission.reason,
                    self.o.now,
                ),
            )
            self.s["unschedulable"] = admission.reason[:_MAX_REASON]
            self._enter(Phase.QUEUED, "Queued", admission.reason)
            return False
        self.actions.create += [
            PodToCreate(s, attempt, admission.plan.get(s.name))
            for s in missing
            if s.name not in held
        ]
        message = f"a placement exists for {len(admission.plan)} of {len(missing)} pods" + (
            f" (minMember {gang.min_member})" if gang else ""
        )
        _set_condition(
            self.s,
            _condition(self.s["conditions"], "Admitted", True, "Admitted", message, self.o.now),
        )
        self.s["unschedulable"] = None
        self.actions.events.append(Event("Normal", "Admitted", message))
        return True

    def _phase_from_pods(
        self,
        by_name: Mapping[str, Mapping[str, Any]],
        pending_creation: bool,
        waiting: str | None = None,
    ) -> None:
        phases = [_phase(by_name[s.name]) if s.name in by_name else "Pending" for s in self.slots]
        if not pending_creation and phases and all(p == "Succeeded" for p in phases):
            self.s["completion_time"] = self.o.now
            self._enter(Phase.SUCCEEDED, "Succeeded", f"all {len(phases)} pods succeeded")
            _set_condition(
                self.s,
                _condition(
                    self.s["conditions"],
                    "Complete",
                    True,
                    "Succeeded",
                    "all pods succeeded",
                    self.o.now,
                ),
            )
            return
        if not pending_creation and all(p in ("Running", "Succeeded") for p in phases):
            if self.s["start_time"] is None:
                self.s["start_time"] = self.o.now
            nodes = summary([n for p in by_name.values() if (n := _node(p))]) or ""
            self._enter(Phase.RUNNING, "Running", f"all {len(phases)} pods running on {nodes}")
            self.s["unschedulable"] = None
            return
        self.s["unschedulable"] = unschedulable(list(by_name.values()))
        self._enter(
            Phase.SCHEDULING, "Scheduling", waiting or "pods created, waiting for placement"
        )

    def _enter(self, phase: Phase, reason: str, message: str) -> None:
        if self.s["phase"] is not phase:
            kind = (
                "Warning"
                if phase in (Phase.FAILED, Phase.QUEUED) and reason != "Queued"
                else "Normal"
            )
            self.actions.events.append(Event(kind, reason, message))
        self.s["phase"] = phase

    # Derived fields, for every state.

    def _observe(self) -> None:
        status = self.s
        deleting = set(self.actions.delete)
        pods = [p for p in self.live if _name(p) not in deleting]
        counted = [p for p in self.o.pods if _phase(p) in ("Running", "Succeeded", "Failed")]
        bound = [p for p in pods if _node(p)]
        status["placements"] = placements(self.o.accelerator_of, bound)
        # The job's own audit trail of where its sensitive data went, and by which rule.
        for message in data_placed(self.previous.placements, status["placements"]):
            self.actions.events.append(Event("Normal", "DataPlacement", message))
        status["placed"] = len(bound)
        ready = sum(1 for p in pods if _phase(p) in ("Running", "Succeeded"))
        status["tasks_ready"], status["tasks_total"] = ready, len(self.slots)
        status["ready"] = ready_text(ready, len(self.slots))
        nodes = {str(_node(p)) for p in bound}
        status["accelerator_type"] = summary(
            [t for t in map(self.o.accelerator_of, nodes) if t is not None]
        )
        status["nodes"] = summary(list(nodes))
        per_hour, accrued = cost(self.o.price_of, self.o.now, counted)
        if status["phase"] in _TERMINAL:
            per_hour = 0.0
        status["price_per_hour"] = per_hour
        status["cost_accrued"] = max(accrued, status["cost_accrued"] or 0.0)
        status["observed_generation"] = self.o.meta.get("generation")
        status["time_limit"] = self.o.limits.time_limit_text


def reconcile(observed: Observed) -> Actions:
    return _Reconciler(observed).run()


def _refused(pod: Mapping[str, Any]) -> bool:
    """kube-scheduler found no node for the pod on its last attempt."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == "PodScheduled"
        and c.get("status") == "False"
        and c.get("reason") == "Unschedulable"
        for c in conditions
    )
