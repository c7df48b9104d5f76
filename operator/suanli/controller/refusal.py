"""When the apiserver refuses a pod of a job: is it the job's fault, and what does the job say.

Pure: the apiserver's answer (HTTP code and Status body) in; a verdict, the job's fields it
points at, and the job's new status out. Used twice with one meaning: the webhook refuses at
`kubectl apply` a job whose pods a dry run refuses for good, and the operator marks Failed a job
whose pods the apiserver refuses for good when it creates them, or says on the job why it waits
when retrying can help (a quota, a busy or unreachable apiserver, a webhook that is down).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from suanli.api import ComputeJobStatus, ConditionStatus, Phase
from suanli.controller.actions import Event
from suanli.controller.conditions import MAX_MESSAGE, condition, find, set_condition

# The condition a job carries while its pods cannot be created but retrying can help.
PODS_CREATED = "PodsCreated"
# The condition a job carries while the operator cannot read its spec (stored before the CRD
# refused such specs, or written for another version of the operator).
VALID = "Valid"
# How long a job whose pods were refused for a passing reason waits before trying again.
RETRY_SECONDS = 5.0
# Forbidden answers that are not about the pod: retrying helps once the cause goes away.
_PASSING_FORBIDDEN = (
    "exceeded quota",  # ResourceQuota: room comes back as other pods finish
    "cannot create resource",  # the operator's own RBAC, fixed by an administrator
    "is being terminated",  # the namespace is going away
)


@dataclass(frozen=True)
class Cause:
    field: str
    message: str


@dataclass(frozen=True)
class PodRefusal:
    """The apiserver's answer to creating one pod of the job, when it was not a yes."""

    pod: str
    task_index: int
    code: int
    reason: str
    message: str
    causes: tuple[Cause, ...] = ()
    # What was refused: a pod, or an object the pods need (an MPI job's Service, ConfigMap or
    # Secret, whose causes do not point into a task's template).
    kind: str = "pod"

    @property
    def permanent(self) -> bool:
        """True when the same pod would be refused again: the job must change."""
        if self.code in (400, 413, 422):
            return True
        if self.code == 403:
            return not any(text in self.message for text in _PASSING_FORBIDDEN)
        return False  # 404 (namespace), 409, 429, 5xx and the unknown: try again

    def job_field(self, pod_field: str) -> str:
        """Where in the ComputeJob a field of its pod comes from."""
        task = f"spec.tasks[{self.task_index}]"
        if pod_field.startswith("spec"):
            return f"{task}.template.{pod_field}"
        if pod_field.startswith(("metadata.labels", "metadata.annotations")):
            return f"{task}.template.{pod_field}"
        if pod_field == "metadata.name":
            return "metadata.name"  # the pod's name is made from the job's and the task's
        return f"{task}.template ({pod_field} of the pod)"

    def field_messages(self) -> list[str]:
        """`<job field>: <apiserver's message>` per cause; the whole message without causes."""
        if not self.causes:
            return [f"spec.tasks[{self.task_index}].template: {self.message}"]
        return [f"{self.job_field(c.field)}: {c.message}" for c in self.causes]

    def describe(self) -> str:
        """What the job's condition and event say: the pod, the code and the apiserver's words."""
        fields = "; ".join(self.field_messages()) if self.causes else ""
        where = f" (from {fields})" if fields else ""
        return f"{self.kind} {self.pod}: {self.code} {self.reason}: {self.message}{where}"


def refusal_from(pod: str, task_index: int, code: int, body: str | bytes | None) -> PodRefusal:
    """Read the apiserver's Status body; anything else becomes its raw text."""
    try:
        status: Any = json.loads(body) if body else {}
    except ValueError:
        status = {"message": (body.decode(errors="replace") if isinstance(body, bytes) else body)}
    if not isinstance(status, dict):
        status = {"message": str(status)}
    details = status.get("details") or {}
    causes = tuple(
        Cause(str(c.get("field") or ""), str(c.get("message") or c.get("reason") or ""))
        for c in details.get("causes") or []
        if isinstance(c, dict)
    )
    return PodRefusal(
        pod=pod,
        task_index=task_index,
        code=code,
        reason=str(status.get("reason") or "Unknown"),
        message=str(status.get("message") or f"HTTP {code}"),
        causes=causes,
    )


@dataclass(frozen=True)
class Outcome:
    """What creating a job's pods did to its status."""

    status: ComputeJobStatus
    events: list[Event]
    retry_after: float | None = None


def after_creation(
    status: ComputeJobStatus, refusals: list[PodRefusal], created: int, now: dt.datetime
) -> Outcome:
    """The status once the creations of one reconcile are known.

    A refusal for good fails the job (its pods are then deleted like any failed job's); a
    passing one sets PodsCreated=False with the apiserver's words and retries soon; creating
    pods again clears it.
    """
    fields = dict(status)
    previous = status.conditions
    permanent = [r for r in refusals if r.permanent]
    if permanent:
        message = "the apiserver refused " + "; ".join(r.describe() for r in permanent)
        fields["phase"] = Phase.FAILED
        fields["completion_time"] = now
        set_condition(fields, condition(previous, "Failed", True, "PodRejected", message, now))
        events = [Event("Warning", "PodRejected", message)]
        return Outcome(ComputeJobStatus.model_validate(fields), events)
    old = find(previous, PODS_CREATED)
    if refusals:
        message = (
            "the apiserver refused "
            + "; ".join(r.describe() for r in refusals)
            + f"; retrying every {RETRY_SECONDS:g} s"
        )
        new = condition(previous, PODS_CREATED, False, "CreateRefused", message, now)
        set_condition(fields, new)
        # The same refusal again is not news: the event was posted when it first came.
        said = old is not None and old.status == new.status and old.message == new.message
        events = [] if said else [Event("Warning", "PodCreateRefused", message)]
        return Outcome(ComputeJobStatus.model_validate(fields), events, RETRY_SECONDS)
    if created and old is not None and old.status == ConditionStatus.FALSE:
        message = f"{created} pod(s) created after the apiserver had refused them"
        set_condition(fields, condition(previous, PODS_CREATED, True, "Created", message, now))
        events = [Event("Normal", "Created", message)]
        return Outcome(ComputeJobStatus.model_validate(fields), events)
    return Outcome(status, [])


def unreadable(
    status: dict[str, Any], problems: list[str], now: dt.datetime
) -> tuple[dict[str, Any], Event | None]:
    """The raw status of a job whose spec the operator cannot read, and the event to post.

    Raw dicts: the stored status may not read either. The phase and the pods are left alone,
    since a newer operator may read the job; only the condition and one event say why nothing
    happens.
    """
    message = "the operator cannot read this job: " + "; ".join(problems)
    message = message[:MAX_MESSAGE]
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    old = next((c for c in conditions if c.get("type") == VALID), None)
    if old is not None and old.get("status") == "False" and old.get("message") == message:
        return status, None
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    new = {
        "type": VALID,
        "status": "False",
        "reason": "InvalidSpec",
        "message": message,
        "lastTransitionTime": stamp,
    }
    kept = [c for c in conditions if c.get("type") != VALID]
    return {**status, "conditions": [*kept, new]}, Event("Warning", "InvalidSpec", message)
