"""A ComputeJob's share of one device: the stack chosen from the nodes it may use, the sizes
written for it, the pod that carries them, and the quota it is charged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.api import ComputeJob
from suanli.api.models import Accelerators
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.podspec import pod_manifest
from suanli.controller.queues import job_request
from suanli.controller.shares import SharePlan, SharePool, plan_share
from suanli.controller.slots import slots
from suanli.scoring import parse_pod
from suanli.scoring.sharing import ShareStack

CATALOG = ScoringConfigFiles(None, None).catalog
HAMI_T4 = SharePool("T4", ShareStack.HAMI, 15.0)
SLICED_L4 = SharePool("L4", ShareStack.TIME_SLICING, 22.0)
PLAIN_A100 = SharePool("A100", ShareStack.SUANLI, 80.0)
PLAIN_T4 = SharePool("T4", ShareStack.SUANLI, 15.0)


@dataclass(frozen=True)
class PlanCase:
    id: str
    accelerators: dict[str, Any]
    pools: tuple[SharePool, ...]
    plan: SharePlan
    types: list[str] = field(default_factory=list)


PLANS = [
    PlanCase(
        "hami-wins-over-plain-nodes-of-the-type",
        {"share": 0.25},
        (HAMI_T4, PLAIN_T4),
        SharePlan(ShareStack.HAMI, 250, 3840, 25),
        ["T4"],
    ),
    PlanCase(
        "time-slicing-when-no-hami-node-fits",
        {"share": 0.5},
        (SLICED_L4, PLAIN_A100),
        SharePlan(ShareStack.TIME_SLICING, 500, 11264, 50),
        ["L4", "A100"],
    ),
    PlanCase(
        "types-not-accepted-do-not-count",
        {"share": 0.5},
        (HAMI_T4, PLAIN_A100),
        SharePlan(ShareStack.SUANLI, 500, 40960, 50),
        ["A100"],
    ),
    PlanCase(
        "memory-sized-share-over-the-device-memory",
        {"memoryGiB": 5},
        (HAMI_T4,),
        SharePlan(ShareStack.HAMI, 334, 5120, 34),
        ["T4"],
    ),
    PlanCase(
        "memory-sized-share-skips-small-devices",
        {"memoryGiB": 20},
        (HAMI_T4, SLICED_L4),
        SharePlan(ShareStack.TIME_SLICING, 910, 20480, 91),
    ),
    PlanCase(
        "no-node-known-uses-the-catalog",
        {"share": 0.001},
        (),
        SharePlan(ShareStack.SUANLI, 1, 16, 1),
        ["T4"],
    ),
]


@pytest.mark.parametrize("case", PLANS, ids=lambda c: c.id)
def test_share_plans(case: PlanCase) -> None:
    accelerators = Accelerators.model_validate({**case.accelerators, "types": case.types})
    assert plan_share(accelerators, case.types, CATALOG, case.pools) == case.plan


def _job(accelerators: dict[str, Any], replicas: int = 1) -> tuple[ComputeJob, dict[str, Any]]:
    meta = {"name": "infer", "namespace": "team", "uid": "uid-1"}
    body = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": meta,
        "spec": {
            "workload": "inference",
            "tasks": [
                {
                    "name": "worker",
                    "replicas": replicas,
                    "accelerators": accelerators,
                    "template": {"spec": {"containers": [{"name": "main", "image": "x"}]}},
                }
            ],
        },
    }
    return ComputeJob.model_validate(body), meta


@dataclass(frozen=True)
class PodCase:
    id: str
    pools: tuple[SharePool, ...]
    limits: dict[str, str]


PODS = [
    PodCase(
        "hami",
        (HAMI_T4,),
        {"nvidia.com/gpu": "1", "nvidia.com/gpumem": "3840", "nvidia.com/gpucores": "25"},
    ),
    PodCase(
        "time-slicing",
        (SharePool("T4", ShareStack.TIME_SLICING, 15.0),),
        {"nvidia.com/gpu.shared": "1"},
    ),
    PodCase("suanli-annotation-only", (PLAIN_T4,), {}),
]


@pytest.mark.parametrize("case", PODS, ids=lambda c: c.id)
def test_share_pods_speak_the_stack_of_their_nodes(case: PodCase) -> None:
    job, meta = _job({"share": 0.25, "types": ["T4"]})
    manifest = pod_manifest(job, meta, slots(job, "infer")[0], CATALOG, share_pools=case.pools)
    limits = manifest["spec"]["containers"][0].get("resources", {}).get("limits", {})
    assert limits == case.limits
    assert manifest["metadata"]["annotations"]["suanli.dev/gpu-milli"] == "250"
    demand = parse_pod(manifest)
    assert (demand.gpu.whole, demand.gpu.milli) == (0, 250)


def test_a_memory_share_asks_for_devices_with_that_memory() -> None:
    job, meta = _job({"memoryGiB": 10, "types": ["L4"]})
    manifest = pod_manifest(job, meta, slots(job, "infer")[0], CATALOG)
    assert parse_pod(manifest).spec.min_accelerator_memory_gib == 10


def test_a_share_charges_its_fraction_of_a_device() -> None:
    job, meta = _job({"share": 0.25, "types": ["T4"]}, replicas=3)
    request = job_request(job, meta, "team-q", CATALOG, 0)
    assert request is not None
    assert request.devices == pytest.approx(0.75)
    assert request.types == ("T4",)
