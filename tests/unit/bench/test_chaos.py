"""The fault suite's bookkeeping: each count catches what it names, and only that."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

import pytest
from chaoscount import PodSeen, Tracker, verdict
from chaosfaults import FaultKind, schedule
from chaosjobs import chaos_job

from suanli.api.models import ComputeJob


def seen(
    uid: str,
    *,
    job: str = "j",
    slot: str = "w/0",
    node: str = "",
    phase: str = "Pending",
    devices: str = "",
    gone: bool = False,
) -> PodSeen:
    return PodSeen(uid, f"pod-{uid}", job, slot, node, phase, devices, gone)


@dataclass(frozen=True)
class Case:
    name: str
    events: list[PodSeen]
    duplicated: int = 0
    bound_twice: int = 0
    overcommits: int = 0
    stuck: int = 0


CASES = [
    Case(
        name="a pod bound, run and ended is clean",
        events=[
            seen("a"),
            seen("a", node="n1", devices="0"),
            seen("a", node="n1", phase="Succeeded"),
        ],
    ),
    Case(
        name="a pod seen on a second node is bound twice",
        events=[seen("a", node="n1"), seen("a", node="n2")],
        bound_twice=1,
    ),
    Case(
        name="two live pods of one slot are duplicated",
        events=[seen("a", node="n1", phase="Running"), seen("b")],
        duplicated=1,
        stuck=1,
    ),
    Case(
        name="a replacement after the first pod failed is not a duplicate",
        events=[seen("a", node="n1", phase="Failed"), seen("b", node="n2", phase="Running")],
    ),
    Case(
        name="a replacement after the first pod was deleted is not a duplicate",
        events=[seen("a", node="n1"), seen("a", node="n1", gone=True), seen("b", node="n1")],
    ),
    Case(
        name="one whole device given to two live pods is an overcommit",
        events=[
            seen("a", slot="w/0", node="n1", devices="0,1"),
            seen("b", slot="w/1", node="n1", devices="1"),
        ],
        overcommits=1,
    ),
    Case(
        name="the same device on another node is no overcommit",
        events=[
            seen("a", slot="w/0", node="n1", devices="1"),
            seen("b", slot="w/1", node="n2", devices="1"),
        ],
    ),
    Case(
        name="a device freed by an ended pod may be given again",
        events=[
            seen("a", slot="w/0", node="n1", devices="1"),
            seen("a", slot="w/0", node="n1", devices="1", phase="Succeeded"),
            seen("b", slot="w/1", node="n1", devices="1"),
        ],
    ),
    Case(
        name="four quarter shares fill a device, a fifth overcommits it",
        events=[seen(str(i), slot=f"s/{i}", node="n1", devices="2:250") for i in range(5)],
        overcommits=1,
    ),
    Case(
        name="an unbound live pod at the end is stuck",
        events=[seen("a"), seen("b", slot="w/1", node="n1")],
        stuck=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_counts_catch_what_they_name(case: Case) -> None:
    tracker = Tracker()
    for event in case.events:
        tracker.see(event)
    result = verdict(tracker, submitted=["j"], phases={"j": "Succeeded"})
    assert len(result.duplicated) == case.duplicated
    assert len(result.bound_twice) == case.bound_twice
    assert len(result.overcommitted) == case.overcommits
    assert len(result.stuck) == case.stuck
    assert result.clean == (case == Case(case.name, case.events))


def test_jobs_that_did_not_succeed_are_lost_with_their_phase() -> None:
    result = verdict(Tracker(), ["a", "b", "c"], {"a": "Succeeded", "b": "Running"})
    assert result.lost == {"b": "Running", "c": "missing"}
    assert result.counts()["lost_jobs"] == 2


def test_a_relist_marks_the_pods_it_no_longer_holds_gone() -> None:
    tracker = Tracker()
    tracker.see(seen("a", node="n1", devices="0"))
    pod: dict[str, Any] = {
        "metadata": {
            "uid": "b",
            "name": "pod-b",
            "labels": {"suanli.dev/job": "j", "suanli.dev/task": "w", "suanli.dev/index": "0"},
            "annotations": {"suanli.dev/gpu-devices": "0"},
        },
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    tracker.relisted([pod])
    assert tracker.pods["a"].gone
    assert not tracker.duplicated  # a's slot was freed
    assert not tracker.overcommits  # and its device


def test_faults_are_spaced_within_the_window_and_seeded() -> None:
    counts = {kind: 3 for kind in FaultKind}
    faults = schedule(counts, start=10, end=270, seed=4, min_gap=12)
    assert [f.kind for f in faults].count(FaultKind.APISERVER) == 3
    assert len(faults) == 12
    assert all(10 <= f.at <= 270 for f in faults)
    assert all(b.at - a.at >= 11.9 for a, b in itertools.pairwise(faults))
    assert faults == schedule(counts, start=10, end=270, seed=4, min_gap=12)
    assert faults != schedule(counts, start=10, end=270, seed=5, min_gap=12)
    with pytest.raises(ValueError, match="do not fit"):
        schedule(counts, start=0, end=100, seed=4, min_gap=12)


def test_every_generated_job_is_a_valid_computejob() -> None:
    rng = random.Random(1)
    kinds = set()
    for index in range(200):
        body = chaos_job(index, rng)
        ComputeJob.model_validate(body)
        kinds.add(body["metadata"]["labels"]["chaos-kind"])
    assert kinds == {"batch", "gpu", "gang", "share"}
