"""Scheduling annotations are believed only on a pod a known ComputeJob owns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.extender.owners import Distrust, KnownJobs, refusal
from suanli.extender.ports import BadRequestError
from suanli.extender.wire import ExtenderArgs
from tests.unit.extender.conftest import JOB, JOB_OWNER, Harness, pod

H100 = '{"acceleratorTypes": ["H100"]}'


@dataclass(frozen=True)
class Case:
    name: str
    annotations: dict[str, str]
    owners: list[dict[str, Any]]
    expected: Distrust | None


CASES = [
    Case("no annotations: placed without requirements", {}, [], None),
    Case("run annotations place nothing", {"suanli.dev/run-duration": "30s"}, [], None),
    Case("demand on a bare pod", {"suanli.dev/demand": H100}, [], Distrust.UNOWNED),
    Case("planned node on a bare pod", {"suanli.dev/planned-node": "n"}, [], Distrust.UNOWNED),
    Case("gpu share on a bare pod", {"suanli.dev/gpu-milli": "250"}, [], Distrust.UNOWNED),
    Case(
        "owned by something else",
        {"suanli.dev/demand": H100},
        [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "job", "uid": "uid-job"}],
        Distrust.UNOWNED,
    ),
    Case("owned by the known job", {"suanli.dev/demand": H100}, [JOB_OWNER], None),
    Case(
        "a job of that name with another uid",
        {"suanli.dev/demand": H100},
        [{**JOB_OWNER, "uid": "forged"}],
        Distrust.UNKNOWN_OWNER,
    ),
    Case(
        "a job the watch has not shown",
        {"suanli.dev/demand": H100},
        [{**JOB_OWNER, "name": "new"}],
        Distrust.UNKNOWN_OWNER,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_refusal(case: Case) -> None:
    subject = {
        "metadata": {
            "namespace": "team",
            "name": "p",
            "annotations": case.annotations,
            "ownerReferences": case.owners,
        }
    }
    refused = refusal(subject, KnownJobs([JOB]))
    assert (refused.kind if refused else None) == case.expected
    if refused is not None:
        assert "pod team/p" in refused.message
        assert next(iter(case.annotations)) in refused.message


def test_the_known_jobs_follow_the_watch() -> None:
    jobs = KnownJobs()
    jobs.apply("ADDED", JOB)
    assert jobs.uid("team", "job") == "uid-job"
    jobs.apply("DELETED", {"metadata": {"namespace": "team", "name": "job", "uid": "older"}})
    assert jobs.uid("team", "job") == "uid-job", "a stale delete must not drop the new job"
    jobs.apply("DELETED", JOB)
    assert jobs.uid("team", "job") is None
    jobs.replace([JOB])
    assert len(jobs) == 1


def _args(harness: Harness, p: dict[str, Any]) -> ExtenderArgs:
    return ExtenderArgs.model_validate({"Pod": p, "NodeNames": harness.node_names})


def test_a_bare_pod_with_a_demand_is_unresolvable_everywhere_and_told_why(
    harness: Harness,
) -> None:
    forged = pod("forged", H100, gpus=8, owners=[])
    result = harness.service.filter(_args(harness, forged))
    assert result.node_names == []
    assert set(result.failed_and_unresolvable) == set(harness.node_names)
    assert "no ComputeJob owns this pod" in result.failed_and_unresolvable["h100-use1-0"]
    name, message = harness.recorder.waiting[-1]
    assert name == "forged"
    assert "submit a ComputeJob" in message
    assert {p.score for p in harness.service.prioritize(_args(harness, forged))} == {0}


def test_a_pod_naming_an_unknown_job_is_an_error_the_scheduler_retries(harness: Harness) -> None:
    early = pod("early", H100, gpus=8, owners=[{**JOB_OWNER, "name": "new", "uid": "u"}])
    with pytest.raises(BadRequestError, match="does not know in team") as raised:
        harness.service.filter(_args(harness, early))
    assert raised.value.reason == "unknown_owner"
    harness.service.jobs.apply(
        "ADDED", {"metadata": {"namespace": "team", "name": "new", "uid": "u"}}
    )
    assert harness.service.filter(_args(harness, early)).node_names


def test_a_bare_pod_without_annotations_is_placed_without_requirements(harness: Harness) -> None:
    plain = pod("plain", gpus=1, owners=[])
    assert harness.service.filter(_args(harness, plain)).node_names
