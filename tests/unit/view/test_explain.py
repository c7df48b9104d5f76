"""A job's explanation: placements read back from the pods, waiting reasons by node kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.view import NodeKind, explain_job
from suanli.view.explain import FITS_NOW, Judging
from suanli.view.render import explain_text
from tests.unit.view.fixtures import FILES, feed, pod

PLACED = {
    "node": "h100-0",
    "score": 9,
    "breakdown": {"accelerator": 1.0, "hpc": 0.5},
    "runnersUp": [{"node": "h100-1", "score": 8}],
    "feasibleNodes": 2,
    "candidateNodes": 7,
}


def job(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "j", "namespace": "ns"}, "spec": {}, "status": status}


def judging(pods: list[dict[str, Any]]) -> Judging:
    return Judging(feed(pods), FILES.catalog, FILES.latency, FILES.data_policy)


def test_placements_come_from_the_extenders_annotation() -> None:
    placed = pod("j-worker-0", "h100-0", 8, placement=PLACED)
    explained = explain_job(job(phase="Running", pricePerHour=98.32), [placed])
    (one,) = explained.placements
    assert (one.node, one.score, one.runners_up) == ("h100-0", 9, (("h100-1", 8),))
    assert one.breakdown == {"accelerator": 1.0, "hpc": 0.5}
    text = explain_text(explained)
    assert "h100-1 (8)" in text
    assert "accelerator=1.00" in text
    assert "$98.3200/h" in text


@dataclass(frozen=True)
class Waiting:
    name: str
    demand: dict[str, Any]
    gpus: int
    held: list[dict[str, Any]]
    expected: dict[tuple[str, str], int]  # (accelerator, reason start) -> nodes


WAITING = [
    Waiting(
        "wrong type everywhere but the H100s, which are full",
        {"acceleratorTypes": ["H100"]},
        8,
        [pod("a", "h100-0", 8, job="other"), pod("b", "h100-1", 8, job="other")],
        {("H100", "insufficient"): 2, ("T4", "accelerator type"): 3, ("cpu", "no "): 2},
    ),
    Waiting(
        "one H100 free: it fits now",
        {"acceleratorTypes": ["H100"]},
        8,
        [pod("a", "h100-0", 8, job="other")],
        {("H100", "insufficient"): 1, ("H100", FITS_NOW): 1, ("T4", "accelerator type"): 3},
    ),
]


@pytest.mark.parametrize("case", WAITING, ids=[c.name for c in WAITING])
def test_waiting_reasons_by_node_kind(case: Waiting) -> None:
    waiting = pod("j-worker-0", None, case.gpus, demand=case.demand, phase="Pending")
    explained = explain_job(job(phase="Scheduling"), [waiting], judging(case.held))
    assert explained.waiting_pods == ("j-worker-0",)
    found = {(g.kind.accelerator, g.reason): g.nodes for g in explained.waiting}
    for (accelerator, start), nodes in case.expected.items():
        matching = [n for (a, r), n in found.items() if a == accelerator and r.startswith(start)]
        assert matching == [nodes], (accelerator, start, found)
    assert sum(found.values()) == 7  # every node of the fleet, once


def test_queue_blockers_and_estimated_start_only_when_present() -> None:
    conditions = [
        {
            "type": "QuotaReserved",
            "status": "False",
            "reason": "QuotaExceeded",
            "message": "H100 16/16",
        },
        {"type": "Ready", "status": "True", "reason": "Running", "message": "all ready"},
    ]
    waiting = job(phase="Queued", queue="team-a", queuePosition=2, conditions=conditions)
    explained = explain_job(waiting, [])
    assert (explained.queue, explained.queue_position) == ("team-a", 2)
    assert [b.type for b in explained.blockers] == ["QuotaReserved"]
    assert explained.estimated_start is None
    assert "estimated start" not in explain_text(explained)
    later = explain_job(job(phase="Queued", estimatedStartTime="2026-12-02T15:00:00Z"), [])
    assert "estimated start: 2026-12-02T15:00:00Z" in explain_text(later)


def test_a_gang_without_pods_shows_the_operators_reason() -> None:
    explained = explain_job(job(phase="Pending", unschedulable="0/7 nodes fit: ..."), [])
    assert explained.waiting == ()
    assert "why it waits: 0/7 nodes fit" in explain_text(explained)


def test_kinds_are_type_tier_site() -> None:
    explained = explain_job(job(), [pod("w", None, 1, demand={}, phase="Pending")], judging([]))
    kinds = {g.kind for g in explained.waiting}
    assert NodeKind("T4", "edge", "sh-edge-1") in kinds
