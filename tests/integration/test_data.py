"""Data sensitivity against the real control plane: the policy matrix (class x tier x trust x
region) on the demo fleet through kube-scheduler and the extender, and a ComputeJob's data
refused at apply or recorded in its status and events."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from suanli.api.models import GROUP, PLURAL, VERSION
from tests.integration.conftest import ControlPlane, Extender, Operator
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_labels,
    node_of,
    owning_job,
    raw_pod,
    suanli_pod,
    unschedulable_reason,
)

REGION = "topology.kubernetes.io/region"
EDGE = [{"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.fixture
def namespace(
    control_plane: ControlPlane, extender: Extender, computejob_crd: None
) -> Iterator[str]:
    name = new_namespace(control_plane.core, "data")
    yield name
    delete_namespace_and_wait(control_plane.core, name)


@dataclass(frozen=True)
class Cell:
    """A pod's data on the demo fleet: where it may land, or why it waits."""

    id: str
    classification: str
    residency: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()  # the node's pool must be one of these; empty: any
    region: str | None = None  # and the node in this region
    rule: str | None = None  # the rule recorded with the placement (sensitive data)
    waits_for: str = ""  # not placed: the unschedulable reason names this


MATRIX = (
    Cell("public-anywhere", "public"),
    Cell(
        "internal-on-the-edge", "internal", ("cn-east-1",), ("edge", "device"), region="cn-east-1"
    ),
    # Trust-level 3 edge GPUs: trusted, but outside the provider's premises.
    Cell(
        "confidential-not-on-the-edge",
        "confidential",
        tiers=("edge",),
        waits_for="confidential data not allowed by data policy default",
    ),
    # In cn-north-1 only the Ascend hosts are vouched for (trust-level 3), and none runs a TEE.
    Cell(
        "confidential-on-trusted-hosts",
        "confidential",
        ("cn-north-1",),
        pools=("ascend-cnn1",),
        rule="cloud-trusted",
    ),
    Cell(
        "confidential-not-on-untrusted-hosts",
        "confidential",
        ("us-west-2",),
        waits_for="confidential data not allowed by data policy default",
    ),
    Cell(
        "restricted-in-tdx",
        "restricted",
        ("us-east-1",),
        pools=("cpu-use1", "h100-use1"),
        rule="cloud-tee",
    ),
    Cell(
        "restricted-in-sev-snp",
        "restricted",
        ("eu-west-1",),
        pools=("mi300x-euw1",),
        rule="cloud-tee",
    ),
    Cell(
        "restricted-not-on-trust-alone",
        "restricted",
        ("cn-north-1",),
        waits_for="restricted data not allowed by data policy default",
    ),
    Cell(
        "residency-nowhere-known",
        "public",
        ("ap-south-1",),
        waits_for="outside data residency [ap-south-1]",
    ),
)


def _unschedulable(control_plane: ControlPlane, namespace: str, name: str) -> str:
    return unschedulable_reason(control_plane.core, namespace, name)


def _placement(control_plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    pod = eventually(
        lambda: (
            (p := raw_pod(control_plane.core, namespace, name))
            and "suanli.dev/placement" in p["metadata"].get("annotations", {})
            and p
        ),
        what=f"{name}'s placement annotation",
    )
    return dict(json.loads(pod["metadata"]["annotations"]["suanli.dev/placement"]))


def test_the_policy_matrix_on_the_demo_fleet(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    owner = owning_job(core, namespace)
    for cell in MATRIX:
        data: dict[str, Any] = {"classification": cell.classification}
        if cell.residency:
            data["residency"] = list(cell.residency)
        demand: dict[str, Any] = {"data": data}
        if cell.tiers:
            demand["tiers"] = list(cell.tiers)
        body = suanli_pod(
            cell.id, demand=demand, tolerations=EDGE if cell.tiers else None, owner=owner
        )
        core.create_namespaced_pod(namespace, body)
    for cell in MATRIX:
        if cell.waits_for:
            reason = _unschedulable(control_plane, namespace, cell.id)
            assert cell.waits_for in reason, (cell.id, reason)
            continue
        node = node_of(core, namespace, cell.id)
        if cell.pools:
            assert node.rsplit("-", 1)[0] in cell.pools, (cell.id, node)
        if cell.region:
            assert node_labels(core, node)[REGION] == cell.region, (cell.id, node)
        placement = _placement(control_plane, namespace, cell.id)
        if cell.rule is None:
            assert "data" not in placement, cell.id
        else:
            assert placement["data"]["rule"] == cell.rule, (cell.id, placement)
            assert placement["data"]["policy"] == "default"
            assert placement["data"]["classification"] == cell.classification


def _job(name: str, data: dict[str, Any], tiers: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "workload": "batch",
        "data": data,
        "tasks": [
            {
                "name": "work",
                "replicas": 1,
                "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}},
            }
        ],
    }
    if tiers:
        spec["locality"] = {"tiers": tiers}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def _apply(control_plane: ControlPlane, namespace: str, body: dict[str, Any]) -> str:
    result = subprocess.run(
        [
            str(Path(control_plane.state.bin_dir) / "kubectl"),
            f"--kubeconfig={control_plane.kubeconfig}",
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
        ],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if result.returncode == 0 else result.stderr


@pytest.fixture
def job_namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "data-job")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name)


def test_a_job_no_node_could_hold_is_refused_at_apply(
    control_plane: ControlPlane, job_namespace: str
) -> None:
    refused = _apply(
        control_plane,
        job_namespace,
        _job("edge-secrets", {"classification": "restricted"}, ["edge"]),
    )
    assert "spec.data: no rule of the data policy 'default' for restricted data" in refused
    assert "rule cloud-tee needs tier [cloud], the job allows [edge]" in refused


def test_a_restricted_job_records_the_rule_in_status_and_events(
    control_plane: ControlPlane, job_namespace: str
) -> None:
    body = _job("eu-records", {"classification": "restricted", "residency": ["eu-west-1"]})
    assert _apply(control_plane, job_namespace, body) == ""
    custom = client.CustomObjectsApi(control_plane.core.api_client)

    def placed() -> list[dict[str, Any]] | None:
        job = custom.get_namespaced_custom_object(
            GROUP, VERSION, job_namespace, PLURAL, "eu-records"
        )
        placements = (job.get("status") or {}).get("placements") or []
        return placements if placements and placements[0].get("data") else None

    (placement,) = eventually(placed, 60, "the job's placement with its data rule")
    assert placement["node"].startswith("mi300x-euw1-")
    assert placement["data"] == {
        "classification": "restricted",
        "policy": "default",
        "rule": "cloud-tee",
        "basis": "tier cloud; TEE sev-snp",
    }

    def events() -> str:
        return control_plane.kubectl(
            "get",
            "events",
            "-n",
            job_namespace,
            "--field-selector",
            "involvedObject.name=eu-records",
        )

    said = eventually(
        lambda: "DataPlacement" in (text := events()) and text, 30, "DataPlacement event"
    )
    assert "allowed by data policy default rule cloud-tee" in said
