"""Tenants cannot bypass the scheduler: the admission policy against the real apiserver, with a
tenant's own ServiceAccount token, while a ComputeJob's pods are still created and placed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from suanli.devcluster.admission import POLICY_NAME
from suanli.devcluster.components import install_admission_policy
from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_of,
    raw_pods,
    suanli_pod,
)

TENANT = "tenant"


@pytest.fixture(scope="module")
def policy(control_plane: ControlPlane, operator: Operator) -> Iterator[None]:
    """The dev cluster's policy (the chart's, trusting the dev operator's user), removed after:
    other modules create hand-made pods as the admin."""
    assert control_plane.state.operator_kubeconfig, "the operator has its own identity"
    install_admission_policy(control_plane.state)
    kinds = "validatingadmissionpolicy,validatingadmissionpolicybinding"
    # The apiserver compiles a new policy within a second or so: wait until it refuses.
    probe = new_namespace(control_plane.core, "vap")
    forged = suanli_pod("probe", demand={})
    eventually(lambda: _refused(control_plane.core, probe, forged), 30, "the policy in force")
    yield
    control_plane.kubectl("delete", kinds, POLICY_NAME, "--ignore-not-found")
    delete_namespace_and_wait(control_plane.core, probe)


def _refused(core: client.CoreV1Api, namespace: str, pod: dict[str, Any]) -> str:
    try:
        core.create_namespaced_pod(namespace, pod)
    except ApiException as error:
        return str(json.loads(error.body).get("message", ""))
    core.delete_namespaced_pod(pod["metadata"]["name"], namespace, grace_period_seconds=0)
    return ""


@dataclass
class Tenant:
    namespace: str
    core: client.CoreV1Api
    custom: client.CustomObjectsApi = field(init=False)

    def __post_init__(self) -> None:
        self.custom = client.CustomObjectsApi(self.core.api_client)


@pytest.fixture
def tenant(control_plane: ControlPlane, policy: None) -> Iterator[Tenant]:
    """A ServiceAccount that may edit its own namespace (the stock `edit` role: pods, and
    deployments) and submit ComputeJobs there, authenticated by its own token."""
    namespace = new_namespace(control_plane.core, "tenant")
    kubectl = control_plane.kubectl
    kubectl("create", "serviceaccount", TENANT, "-n", namespace)
    account = f"{namespace}:{TENANT}"
    kubectl(
        "create",
        "rolebinding",
        "edit",
        "--clusterrole=edit",
        f"--serviceaccount={account}",
        "-n",
        namespace,
    )
    kubectl(
        "create",
        "role",
        "jobs",
        "--verb=get,list,watch,create,delete",
        "--resource=computejobs.suanli.dev",
        "-n",
        namespace,
    )
    kubectl(
        "create",
        "rolebinding",
        "jobs",
        "--role=jobs",
        f"--serviceaccount={account}",
        "-n",
        namespace,
    )
    token = kubectl("create", "token", TENANT, "-n", namespace, "--duration=1h").strip()
    admin = control_plane.core.api_client.configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    yield Tenant(namespace, client.CoreV1Api(client.ApiClient(configuration)))
    delete_namespace_and_wait(control_plane.core, namespace)


@dataclass(frozen=True)
class Forgery:
    name: str
    annotations: dict[str, str]
    refused: str  # "" when the apiserver accepts the pod


FORGERIES = [
    Forgery("demand", {"suanli.dev/demand": '{"acceleratorTypes": ["H100"]}'}, "suanli.dev/demand"),
    Forgery("planned-node", {"suanli.dev/planned-node": "h100-use1-0"}, "suanli.dev/planned-node"),
    Forgery("gpu-share", {"suanli.dev/gpu-milli": "250"}, "suanli.dev/gpu-milli"),
    Forgery("devices", {"suanli.dev/gpu-devices": "0,1"}, "suanli.dev/gpu-devices"),
    Forgery("run annotations place nothing", {"suanli.dev/run-duration": "1h"}, ""),
]


@pytest.mark.parametrize("forgery", FORGERIES, ids=lambda f: f.name)
def test_a_tenant_cannot_create_a_pod_carrying_scheduling_annotations(
    tenant: Tenant, forgery: Forgery
) -> None:
    pod = suanli_pod("forged", gpus=8)
    pod["metadata"]["annotations"] = forgery.annotations
    message = _refused(tenant.core, tenant.namespace, pod)
    if not forgery.refused:
        assert message == ""
        return
    assert f"metadata.annotations: {forgery.refused}" in message
    assert f"system:serviceaccount:{tenant.namespace}:{TENANT}" in message
    assert "submit a ComputeJob" in message
    assert POLICY_NAME in message


def test_a_tenant_cannot_add_a_demand_to_a_plain_pod_later(tenant: Tenant) -> None:
    # A plain pod may ask for the Suanli scheduler: it is placed without requirements.
    tenant.core.create_namespaced_pod(tenant.namespace, suanli_pod("plain", gpus=1))
    assert node_of(tenant.core, tenant.namespace, "plain", timeout=60)
    patch = {"metadata": {"annotations": {"suanli.dev/demand": '{"acceleratorTypes": ["H100"]}'}}}
    with pytest.raises(ApiException) as raised:
        tenant.core.patch_namespaced_pod("plain", tenant.namespace, patch)
    assert "metadata.annotations: suanli.dev/demand" in json.loads(raised.value.body)["message"]


def test_a_controller_creating_the_tenants_pods_is_refused_too(
    control_plane: ControlPlane, tenant: Tenant
) -> None:
    """The annotation in a Deployment's template reaches the apiserver from the ReplicaSet
    controller's account; it is refused all the same, and the ReplicaSet says so."""
    template = suanli_pod("ignored", demand={"acceleratorTypes": ["H100"]})
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sneaky"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "sneaky"}},
            "template": {
                "metadata": {
                    "labels": {"app": "sneaky"},
                    "annotations": template["metadata"]["annotations"],
                },
                "spec": template["spec"],
            },
        },
    }
    client.AppsV1Api(tenant.core.api_client).create_namespaced_deployment(
        tenant.namespace, deployment
    )
    events = eventually(
        lambda: (
            (
                out := control_plane.kubectl(
                    "get",
                    "events",
                    "-n",
                    tenant.namespace,
                    "--field-selector",
                    "reason=FailedCreate",
                )
            )
            and "suanli.dev/demand" in out
            and out
        ),
        60,
        "the ReplicaSet's refused pod",
    )
    assert "system:serviceaccount:kube-system:replicaset-controller" in events
    assert raw_pods(control_plane.core, tenant.namespace) == []


def test_the_tenants_computejob_still_gets_its_pods_created_and_placed(tenant: Tenant) -> None:
    job = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": "honest"},
        "spec": {
            "workload": "training",
            "tasks": [
                {
                    "name": "worker",
                    "replicas": 2,
                    "accelerators": {"count": 1, "types": ["L40S"]},
                    "template": {"spec": {"containers": [{"name": "w", "image": "busybox"}]}},
                }
            ],
        },
    }
    tenant.custom.create_namespaced_custom_object(
        "suanli.dev", "v1alpha1", tenant.namespace, "computejobs", job
    )
    for index in range(2):
        name = f"honest-worker-{index}"
        node = node_of(tenant.core, tenant.namespace, name, timeout=90)
        assert node.startswith("l40s-"), (name, node)
    pods = {p["metadata"]["name"]: p for p in raw_pods(tenant.core, tenant.namespace)}
    assert all("suanli.dev/demand" in p["metadata"]["annotations"] for p in pods.values())
    # The job goes first: while it exists, its operator puts back any pod that is deleted.
    tenant.custom.delete_namespaced_custom_object(
        "suanli.dev", "v1alpha1", tenant.namespace, "computejobs", "honest"
    )
    eventually(lambda: not raw_pods(tenant.core, tenant.namespace), 60, "the job's pods gone")
