"""ComputeQueue preemption and budgets over time against the real control plane: a lender
reclaims what it lent, a whole lower-priority gang goes while a non-preemptible job stays, and
jobs held by a spent budget start when its period rolls over."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from tests.integration.conftest import ControlPlane
from tests.integration.helpers import eventually
from tests.integration.test_queues import (
    apply,
    condition,
    gpu_job,
    held_for,
    namespace,
    preempted_condition,
    queue,
    start_in_turn,
    status,
)

__all__ = ["namespace"]  # the fixture, shared with the queue tests


def running(control_plane: ControlPlane, namespace: str, name: str) -> bool:
    return status(control_plane, namespace, name).get("phase") == "Running"


def pods_of(control_plane: ControlPlane, namespace: str, job: str) -> list[Any]:
    return list(
        control_plane.core.list_namespaced_pod(
            namespace, label_selector=f"suanli.dev/job={job}"
        ).items
    )


def test_a_lender_reclaims_its_quota_from_the_newest_borrowing_job(
    control_plane: ControlPlane, namespace: str
) -> None:
    cohort = f"{namespace}-cohort"
    lender, borrower = f"{namespace}-lender", f"{namespace}-borrower"
    apply(
        control_plane,
        namespace,
        queue(lender, namespace, cohort=cohort, quotas=[{"resource": "H100", "nominal": 16}]),
    )
    apply(
        control_plane,
        namespace,
        queue(borrower, namespace, cohort=cohort, quotas=[{"resource": "H100", "nominal": 0}]),
    )
    # The lender is idle: the borrower takes all 16 of its H100.
    start_in_turn(control_plane, namespace, borrower, ("borrow-old", "borrow-new"))
    apply(control_plane, namespace, gpu_job("owner", lender, "1h"))
    preempted = preempted_condition(control_plane, namespace, "borrow-new")
    assert preempted["reason"] == "ReclaimBorrowed"
    assert "owner" in preempted["message"]
    assert "took back the quota it lent" in preempted["message"]
    eventually(lambda: running(control_plane, namespace, "owner"), 90, "owner Running")
    eventually(
        lambda: not pods_of(control_plane, namespace, "borrow-new"), 60, "borrow-new's pods gone"
    )
    # One victim was enough: the older borrowing job keeps running.
    assert running(control_plane, namespace, "borrow-old")
    assert not condition(status(control_plane, namespace, "borrow-old"), "Preempted")
    assert status(control_plane, namespace, "borrow-new")["phase"] == "Queued"


def test_a_whole_gang_is_preempted_and_a_non_preemptible_job_never_is(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = f"{namespace}-prio"
    apply(
        control_plane,
        namespace,
        queue(name, namespace, quotas=[{"resource": "H100", "nominal": 24}]),
    )
    # The lowest priority, but not to be preempted: 8 H100.
    apply(control_plane, namespace, gpu_job("pinned", name, "1h", priority=0, preemptible=False))
    # A gang of 2 x 8 H100 of priority 1: the whole quota is held.
    gang = gpu_job("gang", name, "1h", priority=1, gang={"minMember": 2, "timeoutSeconds": 300})
    gang["spec"]["tasks"][0]["replicas"] = 2
    gang["spec"]["tasks"][0]["accelerators"]["types"] = ["H100"]
    apply(control_plane, namespace, gang)
    for job in ("pinned", "gang"):
        eventually(lambda job=job: running(control_plane, namespace, job), 120, f"{job} Running")
    # 16 H100 of priority 10: only the whole gang can make room (the pinned job may not go,
    # and half the gang would not do).
    high = gpu_job("high", name, "1h", priority=10)
    high["spec"]["tasks"][0]["replicas"] = 2
    high["spec"]["tasks"][0]["accelerators"]["types"] = ["H100"]
    apply(control_plane, namespace, high)
    eventually(lambda: running(control_plane, namespace, "high"), 120, "high Running")
    gang_status = status(control_plane, namespace, "gang")
    assert condition(gang_status, "Preempted")["reason"] == "InQueuePriority"
    eventually(lambda: not pods_of(control_plane, namespace, "gang"), 60, "the gang's pods gone")
    assert running(control_plane, namespace, "pinned")
    assert not condition(status(control_plane, namespace, "pinned"), "Preempted")
    assert len(pods_of(control_plane, namespace, "pinned")) == 1


def _day_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_spend(control_plane: ControlPlane, name: str, spend: dict[str, Any]) -> None:
    control_plane.kubectl(
        "patch",
        "computequeue",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"spend": spend}}),
    )


def test_a_spent_budget_holds_jobs_until_its_period_rolls_over(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = f"{namespace}-daily"
    apply(
        control_plane,
        namespace,
        queue(
            name,
            namespace,
            budget={"spend": {"limit": 50, "period": "24h"}},
            quotas=[{"resource": "H100", "nominal": 64}],
        ),
    )
    # Today's 50 USD are spent (as the budget keeper records it in the queue's status). The
    # test reads "today" twice, minutes apart: it starts after midnight when that is near.
    now = dt.datetime.now(dt.UTC)
    until_midnight = (_day_start(now) + dt.timedelta(days=1) - now).total_seconds()
    if until_midnight < 300:
        time.sleep(until_midnight + 1)
        now = dt.datetime.now(dt.UTC)
    _record_spend(
        control_plane,
        name,
        {
            "periodStart": _stamp(_day_start(now)),
            "spent": 50,
            "pricePerHour": 0,
            "accountedAt": _stamp(now),
        },
    )
    apply(control_plane, namespace, gpu_job("held", name, "1h"))
    held = held_for(control_plane, namespace, "held", "BudgetExhausted", "held by the budget")
    assert "budget for 24h" in condition(held, "QuotaReserved")["message"]
    assert not pods_of(control_plane, namespace, "held")
    # The day passes: the record now says the money was spent in yesterday's period, last
    # accounted just before midnight. The budget keeper's next accounting (every 30 s) starts
    # today's period from nothing, and the held job starts.
    yesterday = _day_start(now) - dt.timedelta(days=1)
    _record_spend(
        control_plane,
        name,
        {
            "periodStart": _stamp(yesterday),
            "spent": 50,
            "pricePerHour": 0,
            "accountedAt": _stamp(_day_start(now) - dt.timedelta(seconds=1)),
        },
    )
    eventually(lambda: running(control_plane, namespace, "held"), 120, "held Running")
    recorded = json.loads(control_plane.kubectl("get", "computequeue", name, "-o", "json"))[
        "status"
    ]["spend"]
    assert recorded["periodStart"] == _stamp(_day_start(dt.datetime.now(dt.UTC)))
    assert float(recorded["spent"]) < 50
