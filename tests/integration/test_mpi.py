"""MPI jobs on the real control plane: the Service, hostfile and key pair, stable hostnames, the
launcher only after Ready workers; and every example's objects pass the apiserver's dry run."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller import sshkeys
from suanli.controller.mpi import (
    config_map_manifest,
    layout,
    secret_manifest,
    service_manifest,
)
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.kube.client import post_json
from suanli.scoring.resources import RDMA_RESOURCE
from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    raw_pods,
)
from tests.integration.test_operator import apply_example, job, wait_phase

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
WORKERS = [f"cfd-mpi-worker-{i}" for i in range(4)]
LAUNCHER = "cfd-mpi-launcher-0"


class _PodEvents(list[tuple[str, str, bool]]):
    """(type, pod, Ready) per pod event, in the order the watch delivers them."""


def _pod_events(core: Any, namespace: str) -> tuple[_PodEvents, threading.Event]:
    events = _PodEvents()
    stop = threading.Event()
    version = core.list_namespaced_pod(namespace).metadata.resource_version

    def record() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            core.list_namespaced_pod, namespace, resource_version=version, timeout_seconds=150
        ):
            pod = event["object"]
            ready = any(
                c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])
            )
            events.append((event["type"], pod.metadata.name, ready))
            if stop.is_set():
                stream.stop()

    threading.Thread(target=record, daemon=True).start()
    return events, stop


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "mpi")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


def _get(control_plane: ControlPlane, namespace: str, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(control_plane.kubectl("get", kind, name, "-n", namespace, "-o", "json")))


def _ready_since(pod: dict[str, Any]) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready" and condition["status"] == "True":
            return str(condition["lastTransitionTime"])
    return None


def test_the_mpi_example_gets_its_service_hostfile_key_pair_and_a_launcher_after_its_workers(
    control_plane: ControlPlane, namespace: str
) -> None:
    core = control_plane.core
    # Every pod event in order, from a watch opened before the job exists: when the launcher is
    # ADDED, each worker must already have been seen Ready (not inferred from timestamps, which
    # have a resolution of one second).
    events, stop = _pod_events(core, namespace)
    name = apply_example(control_plane, namespace, "mpi-hpc.yaml")
    eventually(lambda: any(n == LAUNCHER for _, n, _ in events), 120, "the launcher created")
    stop.set()
    first_launcher = next(i for i, (_, n, _) in enumerate(events) if n == LAUNCHER)
    assert events[first_launcher][0] == "ADDED"
    before = events[:first_launcher]
    for worker in WORKERS:
        assert any(n == worker and ready for _, n, ready in before), (
            f"{worker} not seen Ready before the launcher was created: {before}"
        )
    pods = {p["metadata"]["name"]: p for p in raw_pods(core, namespace)}
    launcher_created = pods[LAUNCHER]["metadata"]["creationTimestamp"]
    for worker in WORKERS:
        ready = _ready_since(pods[worker])
        assert ready is not None, f"{worker} not Ready when the launcher was created"
        assert ready <= launcher_created, worker
    body = wait_phase(control_plane, namespace, name, "Succeeded", 180)
    uid = body["metadata"]["uid"]
    owner = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }

    service = _get(control_plane, namespace, "service", name)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"suanli.dev/job": name}
    assert service["spec"]["publishNotReadyAddresses"] is True
    config = _get(control_plane, namespace, "configmap", f"{name}-hostfile")
    assert config["data"]["hostfile"] == "".join(
        f"{w}.{name}.{namespace}.svc slots=96\n" for w in WORKERS
    )
    secret = _get(control_plane, namespace, "secret", f"{name}-ssh")
    assert secret["type"] == "kubernetes.io/ssh-auth"
    private = base64.b64decode(secret["data"]["ssh-privatekey"]).decode()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert base64.b64decode(secret["data"]["ssh-publickey"]).decode().startswith("ssh-ed25519 ")
    for made in (service, config, secret):
        assert made["metadata"]["ownerReferences"] == [owner], made["kind"]

    pods = {p["metadata"]["name"]: p for p in raw_pods(core, namespace)}
    assert sorted(pods) == sorted([LAUNCHER, *WORKERS])
    for pod_name, pod in pods.items():
        spec = pod["spec"]
        assert (spec["hostname"], spec["subdomain"]) == (pod_name, name)
        container = spec["containers"][0]
        assert container["resources"]["limits"][RDMA_RESOURCE] == "1"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts["/root/.ssh"]["name"] == "suanli-mpi-ssh"
        assert ("/etc/mpi/hostfile" in mounts) == (pod_name == LAUNCHER)
    # Deleting the job takes its objects with it (owner references, garbage collector).
    control_plane.kubectl("delete", "computejob", name, "-n", namespace, "--wait=false")
    for kind, object_name in (
        ("services", name),
        ("configmaps", f"{name}-hostfile"),
        ("secrets", f"{name}-ssh"),
    ):

        def gone(kind: str = kind, object_name: str = object_name) -> bool:
            listed = control_plane.kubectl("get", kind, "-n", namespace, "-o", "name")
            return not any(line.endswith(f"/{object_name}") for line in listed.split())

        eventually(gone, 60, f"{kind}/{object_name} deleted with its job")


def test_the_launcher_is_not_created_while_a_worker_is_not_ready(
    control_plane: ControlPlane, namespace: str
) -> None:
    container = {"name": "main", "image": "mpioperator/openmpi:v0.6.0"}
    template = {"spec": {"containers": [container]}}
    tasks = [
        {"name": "mpirun", "role": "launcher", "replicas": 1, "template": template},
        {"name": "fits", "role": "worker", "replicas": 1, "template": template},
        # B200 is in the catalog (the webhook accepts it) but on no node: never placed.
        {
            "name": "waits",
            "role": "worker",
            "replicas": 1,
            "accelerators": {"count": 1, "types": ["B200"]},
            "template": template,
        },
    ]
    cost = {"maxPricePerHour": 1000, "billing": "on-demand"}
    name = apply_example(
        control_plane, namespace, "batch-cpu.yaml", workload="batch", tasks=tasks, cost=cost
    )
    eventually(
        lambda: any(
            p["metadata"]["name"] == f"{name}-fits-0" and _ready_since(p)
            for p in raw_pods(control_plane.core, namespace)
        ),
        60,
        "the placeable worker Ready",
    )
    time.sleep(5)  # several reconciles (every pod event, the 5 s resync)
    names = {p["metadata"]["name"] for p in raw_pods(control_plane.core, namespace)}
    assert names == {f"{name}-fits-0", f"{name}-waits-0"}
    status = job(control_plane, namespace, name)["status"]
    assert status["phase"] == "Scheduling"
    assert "B200" in status["unschedulable"]


# --- every example is valid for a real cluster -------------------------------------------------


@pytest.fixture(scope="module")
def dry_run_namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = new_namespace(control_plane.core, "dry")
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    eventually(
        lambda: "default" in control_plane.kubectl("get", "serviceaccounts", "-n", name),
        60,
        "the default ServiceAccount",
    )
    yield name
    control_plane.core.delete_namespace(name)


def _objects(example: Path, namespace: str) -> list[dict[str, Any]]:
    """What the operator creates for the example: its companions first, then every pod."""
    body = yaml.safe_load(example.read_text())
    job_name = body["metadata"]["name"]
    meta = {"name": job_name, "namespace": namespace, "uid": "5ee7c0de-0000-4000-8000-000000000013"}
    job_model = ComputeJob.model_validate(body)
    catalog = ScoringConfigFiles(None, None).catalog
    pods = slots(job_model, job_name)
    made: list[dict[str, Any]] = []
    where = layout(job_model, meta)
    if where is not None:
        keys = sshkeys.generate(f"{job_name}@{namespace}")
        made += [
            service_manifest(where, meta),
            config_map_manifest(job_model, where, meta, pods),
            secret_manifest(where, meta, keys),
        ]
    return made + [pod_manifest(job_model, meta, slot, catalog) for slot in pods]


_PLURALS = {"Pod": "pods", "Service": "services", "ConfigMap": "configmaps", "Secret": "secrets"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_object_the_operator_makes_for_an_example_passes_a_server_side_dry_run(
    control_plane: ControlPlane, dry_run_namespace: str, example: Path
) -> None:
    objects = _objects(example, dry_run_namespace)
    kinds = {o["kind"] for o in objects}
    assert "Pod" in kinds
    if example.name == "mpi-hpc.yaml":
        assert kinds == {"Pod", "Service", "ConfigMap", "Secret"}
    api = control_plane.core.api_client
    for manifest in objects:
        path = f"/api/v1/namespaces/{dry_run_namespace}/{_PLURALS[manifest['kind']]}"
        try:
            post_json(api, path, manifest, dry_run=True)
        except ApiException as error:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {error.body}")
    # A dry run stores nothing.
    assert raw_pods(control_plane.core, dry_run_namespace) == []
