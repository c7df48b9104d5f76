"""spec.data at apply, in the pods' demand, and in the status: refused only when no node could
ever hold the data, carried to the extender, recorded per placement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.api import ComputeJob, DataPlacement, Placement
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.datacheck import data_problems
from suanli.controller.podspec import demand_annotation
from suanli.controller.podstatus import data_placed, placements
from suanli.keys import PLACEMENT_ANNOTATION
from suanli.scoring import BASELINE_POLICY, parse_data_policy
from tests.unit.controller.conftest import example

POLICY = ScoringConfigFiles(None, None).data_policy


def _job(data: dict[str, Any] | None, tiers: list[str] | None = None) -> ComputeJob:
    job, _ = example("batch-cpu.yaml")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    if data is not None:
        body["spec"]["data"] = data
    if tiers is not None:
        body["spec"]["locality"] = {"tiers": tiers}
    return ComputeJob.model_validate(body)


@dataclass(frozen=True)
class ApplyCase:
    name: str
    data: dict[str, Any] | None
    tiers: list[str] | None
    refused: str | None  # a part of the one problem, None: accepted


CN_ONLY = parse_data_policy(
    {
        "name": "pipl",
        "classes": {"restricted": [{"name": "cn", "regions": ["cn-north-1", "cn-east-1"]}]},
    }
)
APPLY = [
    ApplyCase("no data", None, None, None),
    ApplyCase("public on the edge", {"classification": "public"}, ["edge"], None),
    ApplyCase("confidential anywhere", {"classification": "confidential"}, None, None),
    ApplyCase(
        "confidential cloud or edge", {"classification": "confidential"}, ["edge", "cloud"], None
    ),
    ApplyCase(
        "confidential on the edge only",
        {"classification": "confidential"},
        ["edge"],
        "spec.data: no rule of the data policy 'default' for confidential data can be met: "
        "rule cloud-tee needs tier [cloud], the job allows [edge]; rule cloud-trusted needs "
        "tier [cloud], the job allows [edge]; widen spec.locality.tiers or spec.data.residency",
    ),
    ApplyCase(
        "restricted on devices",
        {"classification": "restricted", "residency": ["eu-west-1"]},
        ["device"],
        "rule cloud-tee needs tier [cloud], the job allows [device]",
    ),
]


@pytest.mark.parametrize("case", APPLY, ids=[c.name for c in APPLY])
def test_apply_refuses_what_no_node_could_hold(case: ApplyCase) -> None:
    problems = data_problems(_job(case.data, case.tiers), POLICY)
    if case.refused is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert case.refused in problems[0]


def test_a_class_the_policy_allows_nowhere_is_refused() -> None:
    (problem,) = data_problems(_job({"classification": "restricted"}), BASELINE_POLICY)
    assert problem.startswith(
        "spec.data.classification: the data policy 'baseline' allows restricted data on no node"
    )
    assert "classes.restricted" in problem


def test_residency_against_rule_regions() -> None:
    outside = _job({"classification": "restricted", "residency": ["eu-west-1"]})
    (problem,) = data_problems(outside, CN_ONLY)
    assert "rule cn needs [cn-east-1, cn-north-1], the data may not leave [eu-west-1]" in problem
    inside = _job({"classification": "restricted", "residency": ["cn-north-1"]})
    assert data_problems(inside, CN_ONLY) == []


def test_the_pods_demand_carries_the_data() -> None:
    job = _job({"classification": "confidential", "residency": ["eu-west-1", "eu-west-1a"]})
    demand = json.loads(demand_annotation(job, job.spec.tasks[0]))
    assert demand["data"] == {
        "classification": "confidential",
        "residency": ["eu-west-1", "eu-west-1a"],
    }
    plain = _job(None)
    assert "data" not in json.loads(demand_annotation(plain, plain.spec.tasks[0]))


RECORD = {
    "classification": "restricted",
    "policy": "default",
    "rule": "cloud-tee",
    "basis": "tier cloud; TEE tdx",
}


def _bound(name: str, node: str, explained: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {PLACEMENT_ANNOTATION: json.dumps(explained)}},
        "spec": {"nodeName": node},
    }


def test_the_status_records_the_rule_and_new_placements_make_events() -> None:
    pods = [
        _bound("p-0", "h100-use1-0", {"node": "h100-use1-0", "data": RECORD}),
        _bound("p-1", "cpu-use1-0", {"node": "cpu-use1-0"}),
    ]
    placed = placements(lambda _node: None, pods)
    assert placed[0].data == DataPlacement.model_validate(RECORD)
    assert placed[1].data is None
    assert data_placed([], placed) == [
        "pod p-0 on h100-use1-0: restricted data allowed by data policy default rule cloud-tee "
        "(tier cloud; TEE tdx)"
    ]
    # Said once: a placement already in the status is not news.
    assert data_placed(placed, placed) == []
    moved = [Placement(pod="p-0", node="h100-use1-1", data=placed[0].data)]
    assert len(data_placed(placed, moved)) == 1
