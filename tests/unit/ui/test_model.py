"""The web view's model: what a view holds, and the deltas that carry only what changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.ui.model import UiModel, delta
from tests.unit.view.fixtures import feed, pod

JOB = {
    "metadata": {"name": "j", "namespace": "ns"},
    "spec": {"queue": "team-a"},
    "status": {"phase": "Running", "pricePerHour": 10.0, "acceleratorType": "H100"},
}
PLACED = {"node": "h100-0", "score": 9, "breakdown": {"accelerator": 1.0}, "runnersUp": []}


def model() -> UiModel:
    made = UiModel(feed())
    made.replace_jobs([JOB])
    made.replace_pods([pod("j-0", "h100-0", 8, placement=PLACED)])
    return made


def test_view_has_every_node_its_devices_and_the_jobs_explanation() -> None:
    view = model().view()
    kinds = [tuple(k) for k in view["kinds"]]
    h100 = kinds.index(("H100", "cloud", "us-east-1a"))
    assert view["nodes"]["h100-0"] == [h100, [1000] * 8]
    assert view["nodes"]["h100-1"] == [h100, [0] * 8]
    assert len(view["nodes"]) == 7
    job = view["jobs"]["ns/j"]
    assert (job["phase"], job["accelerator"], job["placed"]) == ("Running", "H100", 1)
    assert job["placements"][0]["score"] == 9


def test_a_quiet_model_builds_nothing_new() -> None:
    made = model()
    assert made.view() is made.view()


@dataclass(frozen=True)
class Change:
    name: str
    event: tuple[str, dict[str, Any]]
    sections: set[str]
    changed_nodes: set[str]


CHANGES = [
    Change(
        "a pod lands", ("ADDED", pod("x", "h100-1", 2, job="k")), {"nodes", "fleet"}, {"h100-1"}
    ),
    Change(
        "the job's pod leaves",
        ("DELETED", pod("j-0", "h100-0", 8, placement=PLACED)),
        {"nodes", "fleet", "jobs"},
        {"h100-0"},
    ),
    Change(
        "a pod of no node", ("ADDED", pod("y", None, 1, job="k", phase="Pending")), set(), set()
    ),
]


@pytest.mark.parametrize("case", CHANGES, ids=[c.name for c in CHANGES])
def test_delta_carries_only_what_changed(case: Change) -> None:
    made = model()
    before = made.view()
    made.apply_pod(*case.event)
    change = delta(before, made.view()) or {}
    assert set(change) == case.sections
    if case.changed_nodes:
        assert set(change["nodes"]["changed"]) == case.changed_nodes
        assert change["nodes"]["removed"] == []


def test_new_node_kinds_send_the_whole_view() -> None:
    before = model().view()
    after = {**before, "kinds": [*before["kinds"], ["MI300X", "cloud", "x"]]}
    assert delta(before, after) == {"full": after}


def test_removed_jobs_are_named() -> None:
    made = model()
    before = made.view()
    made.apply_job("DELETED", JOB)
    change = delta(before, made.view())
    assert change is not None
    assert change["jobs"] == {"changed": {}, "removed": ["ns/j"]}
