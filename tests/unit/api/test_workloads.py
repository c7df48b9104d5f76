"""`spec.workload`: optional, and it picks the default weights the job's pods are scored with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.api import ComputeJob, Workload, crd
from suanli.api.workloads import DEFAULT_WORKLOAD, WORKLOAD_WEIGHTS, job_weights
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.fleet import default_fleet, node_manifests
from suanli.scoring import Snapshot, evaluate, parse_pod

FILES = ScoringConfigFiles(None, None)
REQUESTS = {"requests": {"cpu": "2", "memory": "4Gi"}}
CATALOG, LATENCY = FILES.catalog, FILES.latency


def _job(**spec: Any) -> ComputeJob:
    body = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": "j", "namespace": "ns"},
        "spec": {
            "tasks": [
                {
                    "name": "w",
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                }
            ],
            **spec,
        },
    }
    return ComputeJob.model_validate(body)


def test_workload_is_optional_and_defaults_to_batch() -> None:
    job = _job()
    assert job.spec.workload is Workload.BATCH
    assert job_weights(job.spec) == dict(WORKLOAD_WEIGHTS[Workload.BATCH])


@pytest.mark.parametrize(
    ("workload", "first"),
    [
        (Workload.EDGE, {"locality"}),
        (Workload.INFERENCE, {"locality"}),
        (Workload.TRAINING, {"accelerator"}),
        (Workload.HPC, {"hpc"}),
        (Workload.BATCH, {"cost"}),
    ],
)
def test_each_workload_leads_with_what_its_documentation_says(
    workload: Workload, first: set[str]
) -> None:
    weights = job_weights(_job(workload=workload.value).spec)
    top = max(weights.values())
    assert {signal for signal, weight in weights.items() if weight == top} == first


def test_training_packs_harder_than_inference() -> None:
    training = job_weights(_job(workload="training").spec)
    inference = job_weights(_job(workload="inference").spec)
    assert training["packing"] > inference["packing"]


@pytest.mark.parametrize(
    ("workload", "given", "expected"),
    [
        # Set weights win one by one; unset ones keep the workload's.
        ("edge", {"cost": 9}, {"accelerator": 2, "hpc": 1, "locality": 6, "cost": 9, "packing": 1}),
        (
            "training",
            {"packing": 0},
            {"accelerator": 5, "hpc": 2, "locality": 1, "cost": 1, "packing": 0},
        ),
        ("hpc", {}, {"accelerator": 2, "hpc": 5, "locality": 1, "cost": 1, "packing": 3}),
    ],
)
def test_job_weights_override_signal_by_signal(
    workload: str, given: dict[str, float], expected: dict[str, float]
) -> None:
    policy = {"policy": {"weights": given}} if given else {}
    assert job_weights(_job(workload=workload, **policy).spec) == expected


@pytest.mark.parametrize("workload", list(Workload))
def test_pods_carry_their_workloads_weights_to_the_extender(workload: Workload) -> None:
    job = _job(workload=workload.value)
    meta = {"name": "j", "namespace": "ns", "uid": "u"}
    manifest = pod_manifest(job, meta, slots(job, "j")[0], CATALOG)
    annotation = json.loads(manifest["metadata"]["annotations"]["suanli.dev/demand"])
    demand = parse_pod(manifest)
    assert demand.spec.weights.model_dump() == dict(WORKLOAD_WEIGHTS[workload])
    # Written even where it equals the extender's own defaults: nothing is left to chance.
    assert "weights" in annotation


def test_the_apiserver_fills_in_the_same_default() -> None:
    workload = crd.openapi_schema()["properties"]["spec"]["properties"]["workload"]
    assert workload["default"] == DEFAULT_WORKLOAD.value == "batch"
    assert "workload" not in crd.openapi_schema()["properties"]["spec"].get("required", [])


@pytest.mark.parametrize(
    ("workload", "pool"),
    [
        # Accelerator fit first: the preferred, faster L40S, far from the data.
        ("training", "l40s-usw2"),
        # Locality first: the L4 at the edge site the data comes from.
        ("inference", "edge-sh"),
        ("edge", "edge-sh"),
    ],
)
def test_the_workload_changes_where_the_same_job_lands(workload: str, pool: str) -> None:
    job = _job(
        workload=workload,
        tasks=[
            {
                "name": "w",
                "replicas": 1,
                "accelerators": {"count": 1, "types": ["L40S", "L4"]},
                "template": {
                    "spec": {
                        "containers": [{"name": "c", "image": "busybox", "resources": REQUESTS}]
                    }
                },
            }
        ],
        locality={"tiers": ["edge", "cloud"], "sites": ["sh-edge-1"]},
    )
    manifest = pod_manifest(
        job, {"name": "j", "namespace": "ns", "uid": "u"}, slots(job, "j")[0], CATALOG
    )
    nodes = Snapshot.from_objects(list(node_manifests(default_fleet())), [], CATALOG).nodes
    decision = evaluate(parse_pod(manifest), nodes, CATALOG, LATENCY)
    assert decision.ranking[0].rsplit("-", 1)[0] == pool
