"""A job that waited in Queued (for quota) leaves it in the reconcile that creates its pods:
left Queued until its pods' next event, it counted as waiting for room ahead of every later
job's backfill."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.api import Phase, QueueAdmission, QuotaCharge
from suanli.controller.actions import Observed
from suanli.controller.admission import Admission
from suanli.controller.lifecycle import reconcile
from suanli.controller.quota import QuotaHeld
from suanli.controller.slots import PodSlot
from tests.unit.controller.conftest import T0, example, with_status
from tests.unit.controller.test_lifecycle import _always, _never

WAITED = {
    "phase": "Queued",
    "queue": "research",
    "queuePosition": 1,
    "conditions": [
        {
            "type": "QuotaReserved",
            "status": "False",
            "reason": "QuotaExhausted",
            "message": "needs 32 H100",
            "lastTransitionTime": (T0 - dt.timedelta(minutes=5)).isoformat(),
        }
    ],
}
HELD = QuotaHeld(
    QueueAdmission(
        queue="research",
        accelerator_types=["H100"],
        charged=[QuotaCharge(resource="H100", amount=32)],
        admitted_at=T0,
    )
)


def _no_backfill(_missing: list[PodSlot]) -> Admission | None:
    return None


@dataclass(frozen=True)
class Case:
    name: str
    example: str
    admit: Any  # a gang's plan
    gate: Any  # a job without a gang: backfill's verdict (None: nothing waits ahead)
    created: bool
    phase: Phase


CASES = [
    Case("a gang that fits", "training-gang.yaml", _always, _no_backfill, True, Phase.SCHEDULING),
    Case("a job without a gang", "batch-cpu.yaml", _never, _no_backfill, True, Phase.SCHEDULING),
    Case(
        "a gang with no room yet", "training-gang.yaml", _never, _no_backfill, False, Phase.QUEUED
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_admitted_job_that_gets_its_pods_leaves_queued(case: Case) -> None:
    job, meta = example(case.example, queue="research")
    actions = reconcile(
        Observed(
            job=with_status(job, **WAITED),
            meta=meta,
            pods=[],
            now=T0,
            admit=case.admit,
            gate=case.gate,
            quota=HELD,
        )
    )
    assert bool(actions.create) is case.created
    assert actions.status.phase is case.phase
