"""The run times a job runs and is planned under: its own, else its queue's defaults. Pure.

- The **time limit** is enforced (the job is stopped once it has run that long) and is what
  backfill counts on: `runPolicy.timeLimit`, else the queue's `runtime.defaultTimeLimit`, else its
  `runtime.maxTimeLimit`, else none.
- The **expected run time** only feeds start-time estimates: `runPolicy.expectedRuntime`, else the
  time limit, else the queue's `runtime.defaultExpectedRuntime`, else the queue's history (the
  decayed mean run time of its succeeded jobs, `status.runtimeHistory`), else none.

A job asking for more than its queue's `maxTimeLimit` is not admitted: `RunLimits.refusal` says
why, naming the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from suanli.api import RunPolicy
from suanli.api.durations import seconds, text
from suanli.api.queues import Runtime, RuntimeHistory

TOO_LONG = "TimeLimitTooLong"
# The history's mean is the plain mean of the first this many run times, then an exponential
# average with this weight: a queue's workload drifts, and the last few dozen jobs tell more.
HISTORY_WINDOW = 20


@dataclass(frozen=True)
class RunLimits:
    """A job's effective run times in seconds (None: none), and where each came from."""

    time_limit: int | None = None
    expected: int | None = None
    limit_source: str = ""  # "" (the job's own), or e.g. "queue research's defaultTimeLimit"
    expected_source: str = ""
    refusal: str | None = None  # why the queue does not take the job, naming the field

    @property
    def time_limit_text(self) -> str | None:
        return text(self.time_limit) if self.time_limit is not None else None

    @property
    def planned(self) -> int | None:
        """The run time a plan counts on: the expected one, else the limit."""
        return self.expected if self.expected is not None else self.time_limit


def run_limits(
    policy: RunPolicy,
    queue: str | None = None,
    runtime: Runtime | None = None,
    history: RuntimeHistory | None = None,
) -> RunLimits:
    """The job's run times under its queue's `runtime` (None: no queue or no defaults) and
    `history` (None: no job of the queue has succeeded yet)."""
    own_limit = policy.time_limit_seconds
    maximum = seconds(runtime.max_time_limit) if runtime and runtime.max_time_limit else None
    refusal = None
    if own_limit is not None and maximum is not None and own_limit > maximum:
        refusal = (
            f"spec.runPolicy.timeLimit {policy.time_limit} is longer than queue {queue} allows "
            f"({text(maximum)}, its spec.runtime.maxTimeLimit); lower spec.runPolicy.timeLimit "
            "or send the job to another queue"
        )
    limit, limit_source = own_limit, ""
    if limit is None and runtime is not None:
        if runtime.default_time_limit:
            limit = seconds(runtime.default_time_limit)
            limit_source = f"queue {queue}'s defaultTimeLimit"
        elif maximum is not None:
            limit, limit_source = maximum, f"queue {queue}'s maxTimeLimit"
    expected, expected_source = policy.expected_runtime_seconds, ""
    if expected is None and limit is not None:
        expected, expected_source = limit, limit_source
    if expected is None and runtime is not None and runtime.default_expected_runtime:
        expected = seconds(runtime.default_expected_runtime)
        expected_source = f"queue {queue}'s defaultExpectedRuntime"
    if expected is None and history is not None:
        expected = max(1, round(history.mean_seconds))
        expected_source = f"queue {queue}'s history: {history_text(history)}"
    return RunLimits(limit, expected, limit_source, expected_source, refusal)


def history_text(history: RuntimeHistory) -> str:
    """`mean run time 42m of its last 20 succeeded jobs` (the window the mean mostly weighs)."""
    which = (
        f"its {history.jobs} succeeded jobs"
        if history.jobs <= HISTORY_WINDOW
        else f"its recent succeeded jobs ({history.jobs} in all)"
    )
    return f"mean run time {text(history.mean_seconds)} of {which}"


def record_run(
    history: RuntimeHistory | None, started: dt.datetime, finished: dt.datetime
) -> RuntimeHistory:
    """The history with one more succeeded job, which ran from `started` to `finished`."""
    ran = max(0.0, (finished - started).total_seconds())
    if history is None:
        return _history(1, ran, finished)
    jobs = history.jobs + 1
    mean = history.mean_seconds + (ran - history.mean_seconds) / min(jobs, HISTORY_WINDOW)
    last = max(history.last_finished, finished)
    return _history(jobs, round(mean, 3), last)


def _history(jobs: int, mean: float, last: dt.datetime) -> RuntimeHistory:
    return RuntimeHistory.model_validate(
        {"jobs": jobs, "meanSeconds": float(mean), "lastFinished": last}
    )
