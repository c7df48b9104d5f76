"""The operator against the real control plane: examples to completion, gangs, explanations."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.devcluster.nodes import apply_nodes
from suanli.fleet import node_manifests, parse_fleet
from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_labels,
    node_taints,
    owning_job,
    raw_pods,
    suanli_pod,
)

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "op")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


def job(control_plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    return dict(
        json.loads(control_plane.kubectl("get", "computejob", name, "-n", namespace, "-o", "json"))
    )


def wait_phase(
    control_plane: ControlPlane, namespace: str, name: str, phase: str, timeout: float = 120
) -> dict[str, Any]:
    try:
        return dict(
            eventually(
                lambda: (
                    (body := job(control_plane, namespace, name)).get("status", {}).get("phase")
                    == phase
                    and body
                ),
                timeout,
                f"{name} {phase}",
            )
        )
    except AssertionError as error:
        # Say what the job and its pods looked like, not only that the wait ran out.
        status = job(control_plane, namespace, name).get("status")
        pods = {
            p["metadata"]["name"]: (p["status"].get("phase"), p["spec"].get("nodeName"))
            for p in raw_pods(control_plane.core, namespace)
        }
        raise AssertionError(f"{error}; status={status}; pods={pods}") from None


def apply_example(control_plane: ControlPlane, namespace: str, file: str, **spec: Any) -> str:
    body = yaml.safe_load((EXAMPLES / file).read_text())
    body["spec"].update(spec)
    path = Path(control_plane.state.state_dir) / f"{namespace}-{file}"
    path.write_text(yaml.safe_dump(body))
    control_plane.kubectl("apply", "-n", namespace, "-f", str(path))
    return str(body["metadata"]["name"])


def test_examples_run_to_completion_with_placements_and_cost(
    control_plane: ControlPlane, namespace: str
) -> None:
    names = [
        apply_example(control_plane, namespace, f.name) for f in sorted(EXAMPLES.glob("*.yaml"))
    ]
    done = {name: wait_phase(control_plane, namespace, name, "Succeeded", 180) for name in names}
    core = control_plane.core

    def labels_of(name: str) -> list[dict[str, str]]:
        return [node_labels(core, p["node"]) for p in done[name]["status"]["placements"]]

    training = labels_of("llm-finetune")
    assert len(training) == 4
    assert {lab["nvidia.com/gpu.product"] for lab in training} == {"NVIDIA-H100-80GB-HBM3"}
    assert done["llm-finetune"]["status"]["acceleratorType"] == "H100"
    assert len({lab["suanli.dev/rack"] for lab in labels_of("cfd-mpi")}) == 1
    assert {lab["suanli.dev/site"] for lab in labels_of("camera-inference")} == {"sh-edge-1"}
    # The edge nodes are tainted as KubeEdge's are; the edge job's pods tolerate it.
    kubeedge = {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"}
    for placement in done["camera-inference"]["status"]["placements"]:
        assert kubeedge in node_taints(core, placement["node"])
    edge_pods = [p for p in raw_pods(core, namespace) if p["metadata"]["name"].startswith("camera")]
    assert edge_pods
    assert all({**kubeedge, "operator": "Exists"} in p["spec"]["tolerations"] for p in edge_pods)
    assert not any("nvidia.com/gpu.product" in lab for lab in labels_of("etl-shards"))
    for name, body in done.items():
        status = body["status"]
        assert status["ready"] == f"{status['tasksTotal']}/{status['tasksTotal']}", name
        assert status["costAccrued"] > 0, name
        assert status["completionTime"]
        assert all(0 <= p["score"] <= 10 for p in status["placements"]), name
    # An H100 node-hour is about 98: 4 pods x ~20 s must cost about 4 x 98 x 20 / 3600.
    assert 1.0 < done["llm-finetune"]["status"]["costAccrued"] < 4.0
    table = control_plane.kubectl("get", "computejobs", "-n", namespace)
    assert table.split("\n")[0].split()[:6] == [
        "NAME",
        "PHASE",
        "READY",
        "ACCELERATOR",
        "NODES",
        "COST/H",
    ]
    described = control_plane.kubectl("describe", "computejob", "llm-finetune", "-n", namespace)
    for reason in ("Admitted", "Running", "Succeeded"):
        assert reason in described


def test_an_impossible_job_says_why_it_waits(control_plane: ControlPlane, namespace: str) -> None:
    tasks = yaml.safe_load((EXAMPLES / "training-gang.yaml").read_text())["spec"]["tasks"]
    tasks[0]["accelerators"] = {"count": 8, "types": ["B200"]}
    # B200 is in the catalog (so the webhook accepts it) but no node of the fleet has one.
    cost = {"maxPricePerHour": 1000, "billing": "on-demand"}
    name = apply_example(control_plane, namespace, "training-gang.yaml", tasks=tasks, cost=cost)
    body = wait_phase(control_plane, namespace, name, "Queued")
    assert "accelerator type not in [B200]" in body["status"]["unschedulable"]
    described = control_plane.kubectl("describe", "computejob", name, "-n", namespace)
    assert "accelerator type not in [B200]" in described
    assert raw_pods(control_plane.core, namespace) == []


def test_a_gang_that_does_not_fit_holds_nothing_until_capacity_arrives(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    # Take one of the four H100 nodes: room for only three 8-GPU pods remains.
    core.create_namespaced_pod(
        namespace,
        suanli_pod(
            "blocker",
            demand={"acceleratorTypes": ["H100"]},
            gpus=8,
            owner=owning_job(core, namespace, "blocker-owner"),
        ),
    )
    eventually(
        lambda: (p := raw_pods(core, namespace)) and p[0]["spec"].get("nodeName"),
        30,
        "blocker bound",
    )
    tasks = yaml.safe_load((EXAMPLES / "training-gang.yaml").read_text())["spec"]["tasks"]
    tasks[0]["accelerators"] = {"count": 8, "types": ["H100"]}
    tasks[0]["template"]["metadata"]["annotations"]["suanli.dev/run-duration"] = "5s"
    name = apply_example(control_plane, namespace, "training-gang.yaml", tasks=tasks)
    body = wait_phase(control_plane, namespace, name, "Queued")
    assert "only 3 fit now" in body["status"]["unschedulable"]
    # Nothing of the gang exists, so nothing of it holds a GPU while it waits.
    assert [p["metadata"]["name"] for p in raw_pods(core, namespace)] == ["blocker"]
    extra = parse_fleet(
        {
            "pools": [
                {
                    "name": "h100-extra",
                    "count": 1,
                    "region": "us-east-1",
                    "zone": "us-east-1a",
                    "cpu": "192",
                    "memory": "2Ti",
                    "gpu": {"product": "NVIDIA-H100-80GB-HBM3", "count": 8, "memoryMiB": 81559},
                    "hpc": {"interconnect": "infiniband", "rdma": True, "racks": ["rack-h1"]},
                }
            ]
        }
    )
    apply_nodes(core, node_manifests(extra))
    try:
        done = wait_phase(control_plane, namespace, name, "Succeeded", 120)
        nodes = {p["node"] for p in done["status"]["placements"]}
        assert "h100-extra-0" in nodes
        assert len(nodes) == 4
    finally:
        core.delete_node("h100-extra-0")


def _long_running_batch() -> list[dict[str, Any]]:
    """The batch example's tasks, running 90 s: long enough to watch the job while it runs
    even when a busy machine slows the operator down."""
    tasks: list[dict[str, Any]] = yaml.safe_load((EXAMPLES / "batch-cpu.yaml").read_text())["spec"][
        "tasks"
    ]
    tasks[0]["template"]["metadata"]["annotations"]["suanli.dev/run-duration"] = "90s"
    return tasks


def test_suspend_deletes_pods_and_resume_runs_again(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = apply_example(control_plane, namespace, "batch-cpu.yaml", tasks=_long_running_batch())
    wait_phase(control_plane, namespace, name, "Running")
    control_plane.kubectl(
        "patch",
        "computejob",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"runPolicy":{"suspend":true}}}',
    )
    wait_phase(control_plane, namespace, name, "Suspended")
    eventually(lambda: raw_pods(control_plane.core, namespace) == [], 60, "pods deleted")
    assert job(control_plane, namespace, name)["metadata"]["name"] == name
    control_plane.kubectl(
        "patch",
        "computejob",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"runPolicy":{"suspend":false}}}',
    )
    # Resumed: the pods are created again and run.
    wait_phase(control_plane, namespace, name, "Running", 120)


def test_failed_pods_are_restarted_up_to_the_backoff_limit(
    control_plane: ControlPlane, namespace: str
) -> None:
    tasks = yaml.safe_load((EXAMPLES / "batch-cpu.yaml").read_text())["spec"]["tasks"]
    tasks[0]["replicas"] = 1
    tasks[0]["template"]["metadata"]["annotations"].update(
        {"suanli.dev/run-duration": "1s", "suanli.dev/exit-code": "1"}
    )
    name = apply_example(
        control_plane, namespace, "batch-cpu.yaml", tasks=tasks, runPolicy={"backoffLimit": 2}
    )
    body = wait_phase(control_plane, namespace, name, "Failed", 120)
    assert body["status"]["restarts"] == 2
    described = control_plane.kubectl("describe", "computejob", name, "-n", namespace)
    assert "BackoffLimitExceeded" in described
    assert "PodFailed" in described


def test_deleting_a_job_removes_its_pods(control_plane: ControlPlane, namespace: str) -> None:
    name = apply_example(control_plane, namespace, "batch-cpu.yaml", tasks=_long_running_batch())
    wait_phase(control_plane, namespace, name, "Running")
    control_plane.kubectl("delete", "computejob", name, "-n", namespace)
    eventually(lambda: raw_pods(control_plane.core, namespace) == [], 60, "pods collected")


def test_operator_metrics(operator: Operator, namespace: str, control_plane: ControlPlane) -> None:
    name = apply_example(control_plane, namespace, "batch-cpu.yaml", tasks=_long_running_batch())
    wait_phase(control_plane, namespace, name, "Running")
    eventually(
        lambda: (
            f'suanli_computejobs{{namespace="{namespace}",phase="Running"}} 1.0'
            in operator.metrics()
        ),
        30,
    )
    metrics = operator.metrics()
    assert "suanli_computejob_time_to_running_seconds_count" in metrics
    assert 'suanli_operator_reconciles_total{result="success"}' in metrics


@pytest.mark.parametrize(
    ("accelerators", "cost", "field", "says"),
    [
        (
            {"count": 8, "types": ["H1000"]},
            None,
            "spec.tasks[0].accelerators.types[0]",
            "unknown accelerator type",
        ),
        (
            {"count": 8, "types": ["H100"]},
            {"maxPricePerHour": 5},
            "spec.cost.maxPricePerHour",
            "below the cheapest",
        ),
        (
            # Two vendors in preference order: a pod's device request is fixed at creation, so
            # the job is refused rather than left unschedulable on one of them.
            {"count": 1, "types": ["MLU370", "K100-AI"]},
            None,
            "spec.tasks[0].accelerators.types",
            "MLU370 uses cambricon.com/mlu, K100-AI uses hygon.com/dcu",
        ),
    ],
)
def test_catalog_checks_refuse_at_apply_time(
    control_plane: ControlPlane,
    namespace: str,
    accelerators: dict[str, Any],
    cost: dict[str, Any] | None,
    field: str,
    says: str,
) -> None:
    body = yaml.safe_load((EXAMPLES / "training-gang.yaml").read_text())
    body["spec"]["tasks"][0]["accelerators"] = accelerators
    body["spec"].pop("cost")
    if cost:
        body["spec"]["cost"] = cost
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
        input=yaml.safe_dump(body),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "denied the request" in result.stderr
    assert field in result.stderr
    assert says in result.stderr
