"""The pydantic models: what they accept, what they refuse, and where they say the fault is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from suanli.api import (
    Billing,
    ComputeJob,
    ComputeJobSpec,
    ComputeJobStatus,
    Phase,
    Tier,
    Workload,
    ready_text,
)
from suanli.api.errors import field_errors
from tests.unit.api.invalid_specs import CASES, Case, full_job
from tests.unit.api.mutations import Mutation, invalid_jobs

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def _dump(job: ComputeJob) -> dict[str, Any]:
    return job.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _refusals(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ComputeJob.model_validate(document)
    return [str(error) for error in field_errors(caught.value)]


def test_the_four_examples_are_there() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "training-gang.yaml",
        "mpi-hpc.yaml",
        "edge-inference.yaml",
        "batch-cpu.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    document = _load(path)
    job = ComputeJob.model_validate(document)
    assert _dump(job) == document
    assert "namespace" not in document["metadata"]
    for task in job.spec.tasks:
        annotations = task.template["metadata"]["annotations"]
        assert annotations["suanli.dev/run-duration"] == "20s", task.name


def test_examples_ask_for_what_their_names_say() -> None:
    jobs = {p.stem: ComputeJob.model_validate(_load(p)).spec for p in EXAMPLES}
    training = jobs["training-gang"]
    assert training.gang is not None
    assert training.gang.min_member == 4
    assert training.total_devices == 32
    assert training.tasks[0].accelerators is not None
    assert training.tasks[0].accelerators.types == ["H100", "A100"]
    mpi = jobs["mpi-hpc"]
    assert [t.name for t in mpi.tasks] == ["launcher", "worker"]
    assert mpi.task("worker").replicas == 4
    assert mpi.hpc is not None
    assert mpi.hpc.rdma
    assert "AVX512F" in mpi.hpc.cpu_features
    edge = jobs["edge-inference"]
    assert edge.locality is not None
    assert edge.locality.tiers == [Tier.EDGE]
    assert edge.locality.max_latency_ms == 20
    batch = jobs["batch-cpu"]
    assert batch.workload is Workload.BATCH
    assert batch.total_devices == 0
    assert batch.total_replicas > 1


def test_full_job_round_trips_and_defaults_fill_in() -> None:
    job = ComputeJob.model_validate(full_job())
    assert _dump(job) == full_job()
    minimal = ComputeJobSpec.model_validate(
        {
            "workload": "batch",
            "gang": {"minMember": 1},
            "cost": {},
            "tasks": [
                {
                    "name": "a",
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}},
                    "accelerators": {},
                }
            ],
        }
    )
    assert minimal.priority == 0
    assert minimal.gang is not None
    assert minimal.gang.timeout_seconds == 300
    assert minimal.cost is not None
    assert minimal.cost.billing is Billing.ON_DEMAND
    assert minimal.run_policy.backoff_limit == 3
    assert minimal.run_policy.suspend is False
    assert minimal.tasks[0].devices_per_pod == 1


def test_task_lookup() -> None:
    spec = ComputeJob.model_validate(full_job()).spec
    assert spec.task("worker").replicas == 3
    assert spec.total_replicas == 4
    with pytest.raises(KeyError):
        spec.task("nobody")


def test_status_round_trips() -> None:
    status = {
        "phase": "Running",
        "conditions": [
            {
                "type": "Scheduled",
                "status": "True",
                "reason": "AllPodsBound",
                "message": "4 of 4 pods bound",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
                "observedGeneration": 1,
            }
        ],
        "placements": [
            {
                "pod": "llm-finetune-worker-0",
                "node": "h100-use1-0",
                "task": "worker",
                "acceleratorType": "H100",
                "score": 9,
                "breakdown": {"accelerator": 10.0, "hpc": 8.0, "locality": 5.0, "cost": 3.5},
            }
        ],
        "tasksReady": 3,
        "tasksTotal": 4,
        "ready": ready_text(3, 4),
        "acceleratorType": "H100",
        "nodes": "h100-use1-[0-3]",
        "startTime": "2026-01-02T03:04:05Z",
        "pricePerHour": 393.28,
        "costAccrued": 12.5,
        "restarts": 0,
        "observedGeneration": 1,
    }
    parsed = ComputeJobStatus.model_validate(status)
    assert parsed.phase is Phase.RUNNING
    assert parsed.start_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed.ready == "3/4"
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == status


def test_models_are_built_by_field_name_too() -> None:
    status = ComputeJobStatus(tasks_ready=1, tasks_total=2, price_per_hour=1)
    assert status.model_dump(by_alias=True, exclude_none=True) == {
        "conditions": [],
        "placements": [],
        "tasksReady": 1,
        "tasksTotal": 2,
        "pricePerHour": 1.0,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_invalid_specs_are_refused_at_the_field(case: Case) -> None:
    refusals = _refusals(case.job())
    assert any(r.startswith(f"{case.field}: ") for r in refusals), refusals


def test_gang_message_names_both_numbers_and_the_fix() -> None:
    job = full_job()
    job["spec"]["gang"]["minMember"] = 9
    assert _refusals(job) == [
        "spec.gang.minMember: gang.minMember (9) exceeds the total replicas of all tasks (4); "
        "lower gang.minMember or add replicas"
    ]


def test_numbers_and_booleans_are_strict_like_the_apiserver() -> None:
    for path, value in (("replicas", "2"), ("replicas", True), ("replicas", 2.0)):
        job = full_job()
        job["spec"]["tasks"][0][path] = value
        assert _refusals(job)[0].startswith("spec.tasks[0].replicas: ")
    job = full_job()
    job["spec"]["hpc"]["rdma"] = "true"
    assert _refusals(job)[0].startswith("spec.hpc.rdma: ")


def test_unknown_fields_are_named() -> None:
    job = full_job()
    job["spec"]["tasks"][1]["accelerators"]["vendor"] = "nvidia"
    assert _refusals(job) == ["spec.tasks[1].accelerators.vendor: unknown field"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_jobs([full_job(), *(_load(p) for p in EXAMPLES)]))
def test_random_schema_violations_are_refused_at_the_field(mutation: Mutation) -> None:
    refusals = _refusals(mutation.job)
    assert any(r.startswith(f"{mutation.field}: ") for r in refusals), (mutation, refusals)
