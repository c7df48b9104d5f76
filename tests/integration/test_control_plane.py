"""The local control plane behaves like a real cluster: API, nodes, scheduling, pod lifecycle, GC."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from suanli.fleet import node_manifests
from tests.integration.conftest import ControlPlane


def _eventually(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.core.create_namespace({"metadata": {"name": name}})
    return name


def _pod(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "schedulerName": "default-scheduler",
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                }
            ],
        },
    }


def test_apiserver_reports_the_pinned_version(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    assert version["serverVersion"]["gitVersion"] == version["clientVersion"]["gitVersion"]
    assert int(version["serverVersion"]["minor"]) >= 35


def test_every_fleet_node_is_ready_with_its_labels_and_capacity(
    control_plane: ControlPlane,
) -> None:
    expected = {m["metadata"]["name"]: m for m in node_manifests(control_plane.fleet)}
    actual = {
        n.metadata.name: n
        for n in control_plane.core.list_node(label_selector="suanli.dev/pool").items
    }
    assert set(actual) == set(expected)
    for name, manifest in expected.items():
        node = actual[name]
        assert node.metadata.labels.items() >= manifest["metadata"]["labels"].items(), name
        ready = [c.status for c in node.status.conditions if c.type == "Ready"]
        assert ready == ["True"], name
        for resource, quantity in manifest["status"]["allocatable"].items():
            assert parse_quantity(node.status.allocatable[resource]) == parse_quantity(quantity)


def test_kubectl_shows_the_fleet_by_gpu_product_and_tier(control_plane: ControlPlane) -> None:
    table = control_plane.kubectl("get", "nodes", "-L", "nvidia.com/gpu.product,suanli.dev/tier")
    lines = table.splitlines()
    assert lines[0].split()[-2:] == ["GPU.PRODUCT", "TIER"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["h100-use1-0"][-2:] == ["NVIDIA-H100-80GB-HBM3", "cloud"]
    assert rows["edge-sh-0"][-2:] == ["NVIDIA-L4", "edge"]
    assert rows["device-sh-0"][-1] == "device"
    assert all(row[1] == "Ready" for row in rows.values())


def test_default_scheduler_places_a_pod_that_runs_then_succeeds(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    core.create_namespaced_pod(namespace, _pod("hello", **{"suanli.dev/run-duration": "2s"}))
    running = _eventually(
        lambda: (p := core.read_namespaced_pod("hello", namespace)).status.phase == "Running" and p,
        what="Running",
    )
    assert running.spec.node_name in {
        m["metadata"]["name"] for m in node_manifests(control_plane.fleet)
    }
    assert running.status.pod_ip
    scheduled = [c for c in running.status.conditions if c.type == "PodScheduled"]
    assert [c.status for c in scheduled] == ["True"]
    done = _eventually(
        lambda: (
            (p := core.read_namespaced_pod("hello", namespace)).status.phase == "Succeeded" and p
        ),
        what="Succeeded",
    )
    assert done.status.container_statuses[0].state.terminated.exit_code == 0


def test_a_nonzero_exit_code_fails_the_pod(control_plane: ControlPlane, namespace: str) -> None:
    core = control_plane.core
    pod = _pod("crash", **{"suanli.dev/run-duration": "1s", "suanli.dev/exit-code": "3"})
    core.create_namespaced_pod(namespace, pod)
    failed = _eventually(
        lambda: (p := core.read_namespaced_pod("crash", namespace)).status.phase == "Failed" and p,
        what="Failed",
    )
    assert failed.status.container_statuses[0].state.terminated.exit_code == 3


def test_a_pod_without_run_duration_keeps_running(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    core.create_namespaced_pod(namespace, _pod("server"))
    _eventually(lambda: core.read_namespaced_pod("server", namespace).status.phase == "Running")
    time.sleep(3)
    assert core.read_namespaced_pod("server", namespace).status.phase == "Running"


def test_deleting_the_owner_garbage_collects_the_pod(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    pod = _pod("owned")
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    ]
    core.create_namespaced_pod(namespace, pod)
    _eventually(lambda: core.read_namespaced_pod("owned", namespace).status.phase == "Running")
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    def gone() -> bool:
        try:
            core.read_namespaced_pod("owned", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    _eventually(gone, what="pod collected")


def test_rbac_is_enforced_for_component_identities(control_plane: ControlPlane) -> None:
    # The scheduler's own certificate maps to system:kube-scheduler: it may bind, not read secrets.
    can = control_plane.kubectl(
        "auth",
        "can-i",
        "create",
        "pods",
        "--subresource=binding",
        "--as=system:kube-scheduler",
        "-n",
        "default",
    )
    assert can.strip() == "yes"
    result = client.AuthorizationV1Api(control_plane.core.api_client).create_subject_access_review(
        {
            "spec": {
                "user": "system:kube-scheduler",
                "resourceAttributes": {
                    "verb": "list",
                    "resource": "secrets",
                    "namespace": "default",
                },
            }
        }
    )
    assert result.status.allowed is False
