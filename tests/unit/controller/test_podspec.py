"""Pods built for a ComputeJob: names, ownership, scheduler, and the demand the extender reads."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.keys import PLANNED_NODE_ANNOTATION
from suanli.scoring import parse_pod
from suanli.scoring.resources import RDMA_RESOURCE
from tests.unit.controller.conftest import example

CATALOG = ScoringConfigFiles(None, None).catalog


def test_pods_are_owned_named_and_sent_to_the_suanli_scheduler() -> None:
    job, meta = example("mpi-hpc.yaml")
    names = [s.name for s in slots(job, meta["name"])]
    assert names == ["cfd-mpi-launcher-0"] + [f"cfd-mpi-worker-{i}" for i in range(4)]
    manifest = pod_manifest(
        job, meta, slots(job, meta["name"])[1], CATALOG, attempt=2, planned_node="hpc-ib-0"
    )
    assert manifest["spec"]["schedulerName"] == "suanli-scheduler"
    assert manifest["spec"]["restartPolicy"] == "Never"
    (owner,) = manifest["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "name": "cfd-mpi",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    labels, annotations = manifest["metadata"]["labels"], manifest["metadata"]["annotations"]
    assert labels["suanli.dev/job"] == "cfd-mpi"
    assert labels["suanli.dev/task"] == "worker"
    assert annotations["suanli.dev/attempt"] == "2"
    assert annotations["suanli.dev/planned-node"] == "hpc-ib-0"
    demand = json.loads(annotations["suanli.dev/demand"])
    assert demand["interconnect"] == "infiniband"
    assert demand["rdma"] is True
    assert demand["sameDomain"] == "rack"
    assert demand["cpuFeatures"] == ["AVX512F"]


def test_accelerators_become_the_vendors_resource_and_parse_back() -> None:
    job, meta = example("training-gang.yaml")
    manifest = pod_manifest(job, meta, slots(job, meta["name"])[0], CATALOG)
    assert manifest["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "8"
    demand = parse_pod({**manifest, "metadata": {**manifest["metadata"]}})
    assert demand.accelerator_count == 8
    assert demand.spec.accelerator_types == ("H100", "A100")
    assert demand.spec.max_price_per_hour == 100


@pytest.mark.parametrize(
    ("types", "resource"),
    [
        (["Ascend910B"], "huawei.com/Ascend910"),
        (["Ascend910", "Ascend910B"], "huawei.com/Ascend910"),
        (["Ascend310P"], "huawei.com/Ascend310P"),
        (["Ascend310"], "huawei.com/Ascend310"),
        (["MLU370"], "cambricon.com/mlu"),
        (["K100-AI", "Z100"], "hygon.com/dcu"),
        (["MI300X"], "amd.com/gpu"),
        (["H100"], "nvidia.com/gpu"),
        ([], "nvidia.com/gpu"),
    ],
)
def test_the_device_resource_follows_the_accepted_types(types: list[str], resource: str) -> None:
    job, meta = example("training-gang.yaml")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["spec"]["tasks"][0]["accelerators"] = {"count": 2, "types": types}
    typed = ComputeJob.model_validate(body)
    manifest = pod_manifest(typed, meta, slots(typed, meta["name"])[0], CATALOG)
    limits = manifest["spec"]["containers"][0]["resources"]["limits"]
    # The example asks for RDMA too, whose resource sits beside the devices'.
    assert limits == {resource: "2", RDMA_RESOURCE: "1"}
    assert parse_pod(manifest).accelerator_resources == (resource,)


_ON_NODE = {"key": "metadata.name", "operator": "In", "values": ["h100-use1-2"]}
_IN_ZONE = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}


@dataclasses.dataclass(frozen=True)
class Pinning:
    name: str
    template_affinity: dict[str, Any] | None  # the task template's own spec.affinity
    planned: str | None
    terms: list[dict[str, Any]] | None  # the pod's required node selector terms


PINNINGS = [
    Pinning("no plan: no affinity of ours", None, None, None),
    Pinning(
        "a planned node becomes the only node", None, "h100-use1-2", [{"matchFields": [_ON_NODE]}]
    ),
    Pinning(
        "the template's own terms each gain the node",
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [_IN_ZONE]},
                        {"matchFields": [{**_ON_NODE, "values": ["h100-use1-3"]}]},
                    ]
                }
            }
        },
        "h100-use1-2",
        [
            {"matchExpressions": [_IN_ZONE], "matchFields": [_ON_NODE]},
            {"matchFields": [{**_ON_NODE, "values": ["h100-use1-3"]}, _ON_NODE]},
        ],
    ),
]


@pytest.mark.parametrize("case", PINNINGS, ids=[c.name for c in PINNINGS])
def test_a_gang_member_is_pinned_to_its_planned_node(case: Pinning) -> None:
    job, meta = example("training-gang.yaml")
    if case.template_affinity is not None:
        job.spec.tasks[0].template.setdefault("spec", {})["affinity"] = case.template_affinity
    slot = slots(job, meta["name"])[0]
    manifest = pod_manifest(job, meta, slot, CATALOG, planned_node=case.planned)
    affinity = manifest["spec"].get("affinity") or {}
    required = (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    assert (required["nodeSelectorTerms"] if required else None) == case.terms
    # The job's own template is never changed: the next pod starts from it again.
    assert job.spec.tasks[0].template.get("spec", {}).get("affinity") == case.template_affinity


def test_a_planned_pod_outside_a_gang_is_not_pinned() -> None:
    # Its planned node is the extender's first choice only: pinned, it would wait for ever on
    # a node that filled up after the plan.
    job, meta = example("batch-cpu.yaml")
    assert job.spec.gang is None
    manifest = pod_manifest(job, meta, slots(job, meta["name"])[0], CATALOG, planned_node="n-1")
    assert manifest["metadata"]["annotations"][PLANNED_NODE_ANNOTATION] == "n-1"
    assert "nodeAffinity" not in (manifest["spec"].get("affinity") or {})
