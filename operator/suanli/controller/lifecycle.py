"""The ComputeJob state machine, level-triggered: observed job and pods in, actions out.

Pure. Every call recomputes the wanted state from what exists, so a restart at any moment
(between pod creations, during a status update) resumes where the cluster is, not where memory
was. Pod names are deterministic, so a repeated create is refused by the apiserver, never doubled.

Phases: Pending -> Queued (a gang waits for a full placement) -> Scheduling -> Running ->
Succeeded | Failed, and Suspended while `runPolicy.suspend` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.api import ComputeJobStatus, ConditionStatus, Phase
from suanli.api.durations import text as duration_text
from suanli.controller.actions import Actions, Event, Observed, PodToCreate
from suanli.controller.conditions import MAX_MESSAGE as _MAX_REASON
from suanli.controller.conditions import condition as _condition
from suanli.controller.conditions import set_condition as _set_condition
from suanli.controller.derived import derive
from suanli.controller.gangwait import gang_restart
from suanli.controller.jobclock import TERMINAL, deadline_passed, next_look, over_time_limit
from suanli.controller.mpi import held_launchers, layout
from suanli.controller.podstatus import deleting as _deleting
from suanli.controller.podstatus import pod_name as _name
from suanli.controller.podstatus import pod_names as _names
from suanli.controller.podstatus import pod_node as _node
from suanli.controller.podstatus import pod_phase as _phase
from suanli.controller.podstatus import pod_ready as _ready
from suanli.controller.podstatus import summary, unschedulable
from suanli.controller.quota import (
    QUOTA_CONDITION,
    QuotaWait,
    admission_fields,
    describe,
    quota_condition,
    waiting_message,
)
from suanli.controller.slots import PodSlot, slots

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
        if self.previous.phase in TERMINAL:
            self._finished()
        elif self.spec.run_policy.suspend:
            self._suspend()
        elif deadline_passed(self.s, self.spec, self.o.meta, self.o.now):
            self._fail(
                "DeadlineExceeded",
                f"activeDeadlineSeconds ({self.spec.run_policy.active_deadline_seconds}) passed",
            )
        elif (over := over_time_limit(self.s, self.o.limits, self.o.now)) is not None:
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
        self.actions.requeue_after = next_look(
            self.s, self.spec, self.o.meta, self.o.limits, self.o.now
        )
        return self.actions

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
            self._mark(QUOTA_CONDITION, False, "Suspended", "suspended: the quota is released")
        self._enter(
            Phase.SUSPENDED, "Suspended", "runPolicy.suspend is set: pods deleted, job kept"
        )
        self._mark("Suspended", True, "Suspended", "runPolicy.suspend is true")

    def _fail(self, reason: str, message: str) -> None:
        self.actions.delete += [_name(p) for p in self.live]
        self.s["completion_time"] = self.o.now
        self._enter(Phase.FAILED, reason, message)
        self._mark("Failed", True, reason, message)

    # Running states.

    def _progress(self) -> None:
        if any(
            c.type == "Suspended" and c.status == ConditionStatus.TRUE for c in self.s["conditions"]
        ):
            self._mark("Suspended", False, "Resumed", "runPolicy.suspend is false")
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
        """Take a gang that is not fully placed down, to plan it again (see gangwait)."""
        taken_down = gang_restart(
            self.spec,
            self.s["conditions"],
            self.slots,
            self.mpi,
            by_name,
            self.o.now,
            self.o.rooms_gone,
        )
        if taken_down is None:
            return False
        reason, message = taken_down
        self.actions.delete += list(by_name)
        self.s["placements"] = []
        self._mark("Admitted", False, reason, message)
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
            self._mark("Admitted", False, admission.code, admission.reason)
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
        self._mark("Admitted", True, "Admitted", message)
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
            self._mark("Complete", True, "Succeeded", "all pods succeeded")
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

    def _mark(self, kind: str, status: bool, reason: str, message: str) -> None:
        """Set the condition `kind` (its transition time moves only when its status does)."""
        _set_condition(
            self.s, _condition(self.s["conditions"], kind, status, reason, message, self.o.now)
        )

    # Derived fields, for every state.

    def _observe(self) -> None:
        deleting = set(self.actions.delete)
        pods = [p for p in self.live if _name(p) not in deleting]
        self.actions.events += derive(
            self.s, self.o, pods, self.previous.placements, len(self.slots)
        )


def reconcile(observed: Observed) -> Actions:
    return _Reconciler(observed).run()
