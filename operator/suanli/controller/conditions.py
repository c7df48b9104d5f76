"""Status conditions of a ComputeJob, in the metav1.Condition shape. Pure.

A condition keeps its lastTransitionTime while its status stays the same, so re-stating it on
every reconcile does not make it look new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from suanli.api import Condition, ConditionStatus

MAX_MESSAGE = 2000


def condition(  # noqa: PLR0917 - the six parts of a metav1.Condition, always all given
    previous: Sequence[Condition],
    kind: str,
    status: bool,
    reason: str,
    message: str,
    now: dt.datetime,
) -> Condition:
    value = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    old = next((c for c in previous if c.type == kind), None)
    since = old.last_transition_time if old is not None and old.status == value else now
    return Condition(
        type=kind,
        status=value,
        reason=reason,
        message=message[:MAX_MESSAGE],
        last_transition_time=since,
    )


def set_condition(status: dict[str, Any], new: Condition) -> None:
    """Put `new` into the `conditions` of a status being built, replacing its type's."""
    kept = [c for c in status["conditions"] if c.type != new.type]
    status["conditions"] = [*kept, new]


def find(conditions: Sequence[Condition], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)
