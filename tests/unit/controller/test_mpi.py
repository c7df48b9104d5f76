"""MPI jobs: which jobs are, the hostfile, the Service, ConfigMap and Secret, the pods' names and
mounts, and the launcher's gate."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller import sshkeys
from suanli.controller.mpi import (
    MpiLayout,
    config_map_manifest,
    held_launchers,
    hostfile,
    layout,
    secret_manifest,
    service_manifest,
    slots_per_pod,
)
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.scoring.resources import RDMA_RESOURCE
from tests.unit.controller.conftest import example

MPI = "mpi-hpc.yaml"
CATALOG = ScoringConfigFiles(None, None).catalog
KEYS = sshkeys.SshKeys(private="PRIVATE\n", public="ssh-ed25519 AAAA cfd-mpi@team\n")
OWNER = [
    {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "name": "cfd-mpi",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
]


def _task(name: str, replicas: int = 1, **fields: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox", **fields.pop("container", {})}
    return {
        "name": name,
        "replicas": replicas,
        "template": {"spec": {"containers": [container]}},
        **fields,
    }


def _mpi_layout(**spec: Any) -> tuple[ComputeJob, dict[str, Any], MpiLayout]:
    job, meta = example(MPI, **spec)
    where = layout(job, meta)
    assert where is not None
    return job, meta, where


# --- which jobs are MPI jobs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Roles:
    id: str
    workload: str
    tasks: list[dict[str, Any]]
    expected: tuple[str, list[str]] | None


ROLES = [
    Roles(
        "hpc-with-a-launcher-task",
        "hpc",
        [_task("launcher"), _task("worker", 2)],
        ("launcher", ["worker"]),
    ),
    Roles("hpc-without-a-launcher", "hpc", [_task("head"), _task("worker", 2)], None),
    Roles("training-named-launcher", "training", [_task("launcher"), _task("worker")], None),
    Roles("hpc-launcher-alone", "hpc", [_task("launcher")], None),
    Roles(
        "explicit-roles-any-workload",
        "training",
        [_task("mpirun", role="launcher"), _task("ranks", 2, role="worker"), _task("ps")],
        ("mpirun", ["ranks"]),
    ),
    Roles(
        "explicit-launcher-other-tasks-are-workers",
        "batch",
        [_task("a", 2), _task("m", role="launcher"), _task("b")],
        ("m", ["a", "b"]),
    ),
    Roles(
        "explicit-roles-win-over-the-name",
        "hpc",
        [_task("launcher", role="worker"), _task("head", role="launcher")],
        ("head", ["launcher"]),
    ),
]


@pytest.mark.parametrize("case", ROLES, ids=lambda c: c.id)
def test_which_jobs_have_a_launcher_and_workers(case: Roles) -> None:
    job, meta = example(MPI, workload=case.workload, tasks=case.tasks, gang=None)
    assert job.spec.mpi_tasks() == case.expected
    assert (layout(job, meta) is None) == (case.expected is None)


# --- the hostfile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slots:
    id: str
    task: dict[str, Any]
    mpi: dict[str, Any] | None
    expected: int


SLOTS = [
    Slots("accelerators", _task("worker", accelerators={"count": 8}), None, 8),
    Slots(
        "cpu-request",
        _task("worker", container={"resources": {"requests": {"cpu": "96"}}}),
        None,
        96,
    ),
    Slots(
        "cpu-millis-round-down",
        _task("worker", container={"resources": {"requests": {"cpu": "2500m"}}}),
        None,
        2,
    ),
    Slots(
        "cpu-limit-only", _task("worker", container={"resources": {"limits": {"cpu": 4}}}), None, 4
    ),
    Slots(
        "under-one-cpu",
        _task("worker", container={"resources": {"requests": {"cpu": "500m"}}}),
        None,
        1,
    ),
    Slots("nothing-asked", _task("worker"), None, 1),
    Slots("set-by-the-job", _task("worker", accelerators={"count": 8}), {"slotsPerWorker": 2}, 2),
]


@pytest.mark.parametrize("case", SLOTS, ids=lambda c: c.id)
def test_slots_per_worker(case: Slots) -> None:
    job, _meta, where = _mpi_layout(tasks=[_task("launcher"), case.task], gang=None, mpi=case.mpi)
    assert slots_per_pod(job.spec.task("worker"), where.settings) == case.expected


def test_the_hostfile_lists_every_worker_by_its_stable_name() -> None:
    job, meta, where = _mpi_layout()
    assert hostfile(job, where, slots(job, meta["name"])) == "".join(
        f"cfd-mpi-worker-{i}.cfd-mpi.team.svc slots=96\n" for i in range(4)
    )


# --- the objects ---------------------------------------------------------------------------------


def test_the_service_is_headless_over_every_pod_and_publishes_them_before_ready() -> None:
    _job, meta, where = _mpi_layout()
    assert service_manifest(where, meta) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "cfd-mpi",
            "namespace": "team",
            "labels": {"suanli.dev/job": "cfd-mpi"},
            "ownerReferences": OWNER,
        },
        "spec": {
            "clusterIP": "None",
            "selector": {"suanli.dev/job": "cfd-mpi"},
            "publishNotReadyAddresses": True,
        },
    }


def test_the_config_map_holds_the_hostfile() -> None:
    job, meta, where = _mpi_layout()
    config = config_map_manifest(job, where, meta, slots(job, meta["name"]))
    assert config["metadata"]["name"] == "cfd-mpi-hostfile"
    assert config["metadata"]["ownerReferences"] == OWNER
    assert config["data"]["hostfile"].startswith("cfd-mpi-worker-0.cfd-mpi.team.svc slots=96\n")


def test_the_secret_carries_the_key_pair_and_an_ssh_config() -> None:
    _job, meta, where = _mpi_layout()
    secret = secret_manifest(where, meta, KEYS)
    assert secret["type"] == "kubernetes.io/ssh-auth"
    assert secret["metadata"]["name"] == "cfd-mpi-ssh"
    assert secret["metadata"]["ownerReferences"] == OWNER
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["ssh-privatekey"] == KEYS.private
    assert data["ssh-publickey"] == KEYS.public
    assert "StrictHostKeyChecking no" in data["config"]
    assert "UserKnownHostsFile /dev/null" in data["config"]


def test_generated_keys_are_an_openssh_ed25519_pair() -> None:
    keys = sshkeys.generate("cfd-mpi@team")
    assert keys.private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(keys.private.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert keys.public == f"{public.decode()} cfd-mpi@team\n"
    assert sshkeys.generate("x").private != keys.private


# --- the pods ------------------------------------------------------------------------------------


def _pod(job: ComputeJob, meta: dict[str, Any], index: int) -> dict[str, Any]:
    return pod_manifest(job, meta, slots(job, meta["name"])[index], CATALOG)


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_every_pod_has_its_name_as_hostname_and_the_service_as_subdomain() -> None:
    job, meta, _where = _mpi_layout()
    for index, name in enumerate(
        ["cfd-mpi-launcher-0", *(f"cfd-mpi-worker-{i}" for i in range(4))]
    ):
        spec = _pod(job, meta, index)["spec"]
        assert (spec["hostname"], spec["subdomain"]) == (name, "cfd-mpi")


@dataclass(frozen=True)
class Mounts:
    id: str
    index: int  # 0: the launcher, 1: a worker
    mpi: dict[str, Any] | None
    expected: dict[str, tuple[str, str | None]]  # mount path -> (volume, subPath)


MOUNTS = [
    Mounts(
        "launcher-defaults",
        0,
        None,
        {
            "/root/.ssh": ("suanli-mpi-ssh", None),
            "/etc/mpi/hostfile": ("suanli-mpi-hostfile", "hostfile"),
        },
    ),
    Mounts("worker-defaults", 1, None, {"/root/.ssh": ("suanli-mpi-ssh", None)}),
    Mounts(
        "launcher-paths-set-by-the-job",
        0,
        {"hostfile": "/opt/hosts", "sshAuthMountPath": "/home/mpiuser/.ssh"},
        {
            "/home/mpiuser/.ssh": ("suanli-mpi-ssh", None),
            "/opt/hosts": ("suanli-mpi-hostfile", "hostfile"),
        },
    ),
]


@pytest.mark.parametrize("case", MOUNTS, ids=lambda c: c.id)
def test_the_first_container_mounts_the_key_pair_and_the_launcher_the_hostfile(
    case: Mounts,
) -> None:
    job, meta, _where = _mpi_layout(mpi=case.mpi)
    spec = _pod(job, meta, case.index)["spec"]
    mounts = spec["containers"][0]["volumeMounts"]
    assert {m["mountPath"]: (m["name"], m.get("subPath")) for m in mounts} == case.expected
    assert all(m["readOnly"] for m in mounts)
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["suanli-mpi-ssh"]["secret"]["secretName"] == "cfd-mpi-ssh"
    assert volumes["suanli-mpi-ssh"]["secret"]["defaultMode"] == 0o600
    items = {i["path"]: i["key"] for i in volumes["suanli-mpi-ssh"]["secret"]["items"]}
    assert items == {
        "id_ed25519": "ssh-privatekey",
        "id_ed25519.pub": "ssh-publickey",
        "authorized_keys": "ssh-publickey",
        "config": "config",
    }
    if case.index == 0:
        assert volumes["suanli-mpi-hostfile"]["configMap"] == {"name": "cfd-mpi-hostfile"}
    else:
        assert "suanli-mpi-hostfile" not in volumes


@dataclass(frozen=True)
class LauncherEnv:
    id: str
    container: dict[str, Any]
    pod_security: dict[str, Any] | None
    expected: dict[str, str | None]  # None: absent


LAUNCHER_ENV = [
    LauncherEnv(
        "root-by-default",
        {},
        None,
        {
            "OMPI_MCA_orte_keep_fqdn_hostnames": "true",
            "OMPI_MCA_orte_default_hostfile": "/etc/mpi/hostfile",
            "OMPI_ALLOW_RUN_AS_ROOT": "1",
        },
    ),
    LauncherEnv(
        "the-template-wins",
        {"env": [{"name": "OMPI_MCA_plm_rsh_args", "value": "-p 22"}]},
        None,
        {"OMPI_MCA_plm_rsh_args": "-p 22"},
    ),
    LauncherEnv(
        "a-user-picked-in-the-container",
        {"securityContext": {"runAsUser": 1000}},
        None,
        {"OMPI_ALLOW_RUN_AS_ROOT": None, "OMPI_MCA_orte_keep_fqdn_hostnames": "true"},
    ),
    LauncherEnv("non-root-pod", {}, {"runAsNonRoot": True}, {"OMPI_ALLOW_RUN_AS_ROOT": None}),
]


@pytest.mark.parametrize("case", LAUNCHER_ENV, ids=lambda c: c.id)
def test_the_launcher_gets_open_mpi_settings_the_template_does_not_set(case: LauncherEnv) -> None:
    body = example(MPI)[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    launcher = body["spec"]["tasks"][0]["template"]
    launcher["spec"]["containers"][0].update(case.container)
    if case.pod_security:
        launcher["spec"]["securityContext"] = case.pod_security
    job, meta = example(MPI, tasks=body["spec"]["tasks"])
    env = _env(_pod(job, meta, 0)["spec"]["containers"][0])
    for name, value in case.expected.items():
        assert env.get(name) == value, name
    assert not any(n.startswith("OMPI_") for n in _env(_pod(job, meta, 1)["spec"]["containers"][0]))


@dataclass(frozen=True)
class Rdma:
    id: str
    rdma: bool
    limits: dict[str, str]
    expected: str | None


RDMA = [
    Rdma("asked-by-the-job", True, {}, "1"),
    Rdma("kept-from-the-template", True, {RDMA_RESOURCE: "2"}, "2"),
    Rdma("not-asked", False, {}, None),
]


@pytest.mark.parametrize("case", RDMA, ids=lambda c: c.id)
def test_rdma_jobs_request_the_rdma_device_resource(case: Rdma) -> None:
    body = example(MPI)[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    for task in body["spec"]["tasks"]:
        task["template"]["spec"]["containers"][0]["resources"]["limits"] = dict(case.limits)
    hpc = {**body["spec"]["hpc"], "rdma": case.rdma}
    job, meta = example(MPI, tasks=body["spec"]["tasks"], hpc=hpc)
    for index in (0, 1):
        limits = _pod(job, meta, index)["spec"]["containers"][0]["resources"]["limits"]
        assert limits.get(RDMA_RESOURCE) == case.expected


# --- the launcher's gate -------------------------------------------------------------------------

WORKERS = [f"cfd-mpi-worker-{i}" for i in range(4)]
LAUNCHER = "cfd-mpi-launcher-0"


@dataclass(frozen=True)
class Gate:
    id: str
    existing: list[str]
    ready: list[str]
    held: list[str]


GATES = [
    Gate("no-worker-yet", [], [], [LAUNCHER]),
    Gate("workers-created-not-ready", WORKERS, [], [LAUNCHER]),
    Gate("three-of-four-ready", WORKERS, WORKERS[:3], [LAUNCHER]),
    Gate("every-worker-ready", WORKERS, WORKERS, []),
    Gate("launcher-already-there", [*WORKERS, LAUNCHER], WORKERS[:1], []),
]


@pytest.mark.parametrize("case", GATES, ids=lambda c: c.id)
def test_the_launcher_waits_for_every_worker_to_be_ready(case: Gate) -> None:
    job, meta, where = _mpi_layout()
    held, why = held_launchers(where, slots(job, meta["name"]), case.existing, case.ready)
    assert held == case.held
    assert (why is not None) == bool(case.held)
    if why:
        assert f"{len(case.ready)} of 4" in why
