"""MPI jobs: what a launcher needs to reach its workers, made from the ComputeJob. Pure.

The pieces MPI Operator sets up for an MPIJob: a headless Service named after the job, so that
every pod, with its name as hostname and the Service as subdomain, resolves as
`<pod>.<job>.<namespace>.svc`; a hostfile listing the workers with their slots, in a ConfigMap
mounted in the launcher; an SSH key pair in a Secret mounted in every pod (the workers run sshd,
mpirun connects to each with the same key). The launcher is created only once every worker is
Ready: mpirun reaches all hosts at its start and gives up on the first it cannot.

The key pair is passed in (`suanli.controller.sshkeys` makes it), so everything here is a
function of the job.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suanli.api import ComputeJob, Mpi, Task
from suanli.controller.owners import owner_references
from suanli.controller.slots import PodSlot
from suanli.controller.sshkeys import SshKeys
from suanli.keys import JOB_LABEL
from suanli.scoring import to_milli

HOSTFILE_KEY = "hostfile"
HOSTFILE_VOLUME = "suanli-mpi-hostfile"
SSH_VOLUME = "suanli-mpi-ssh"
SSH_PRIVATE_KEY = "ssh-privatekey"  # the keys of a kubernetes.io/ssh-auth Secret
SSH_PUBLIC_KEY = "ssh-publickey"
SSH_CONFIG_KEY = "config"
# Host keys differ between pods and are not known in advance: trusting the first one seen is
# all a job-private network of pods can do, and known_hosts cannot be written in a Secret volume.
SSH_CONFIG = """Host *
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
"""
# Private key and config readable by their owner only, as ssh insists.
_SSH_MODE = 0o600


@dataclass(frozen=True)
class MpiLayout:
    """Where an MPI job's pieces are: names of its objects, its launcher and worker tasks."""

    job: str
    namespace: str
    launcher: str
    workers: tuple[str, ...]
    settings: Mpi

    @property
    def service(self) -> str:
        return self.job

    @property
    def config_map(self) -> str:
        return f"{self.job}-hostfile"

    @property
    def secret(self) -> str:
        return f"{self.job}-ssh"

    def host(self, pod: str) -> str:
        """The name the launcher reaches a pod by."""
        return f"{pod}.{self.service}.{self.namespace}.svc"


def layout(job: ComputeJob, meta: Mapping[str, Any]) -> MpiLayout | None:
    """The job's MPI layout; None when it has no launcher (see ComputeJobSpec.mpi_tasks)."""
    tasks = job.spec.mpi_tasks()
    if tasks is None:
        return None
    launcher, workers = tasks
    return MpiLayout(
        job=str(meta["name"]),
        namespace=str(meta.get("namespace") or ""),
        launcher=launcher,
        workers=tuple(workers),
        settings=job.spec.mpi or Mpi(),
    )


def slots_per_pod(task: Task, settings: Mpi) -> int:
    """Slots of a worker: as set, else its accelerators, else the whole CPUs it requests."""
    if settings.slots_per_worker is not None:
        return settings.slots_per_worker
    if task.devices_per_pod:
        return task.devices_per_pod
    milli = 0
    for container in (task.template.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        cpu = (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get(
            "cpu"
        )
        if cpu is not None:
            milli += to_milli(cpu)
    return max(1, milli // 1000)


def hostfile(job: ComputeJob, where: MpiLayout, pods: Sequence[PodSlot]) -> str:
    """One line per worker pod, in the format Open MPI, MPICH and Intel MPI all read."""
    lines = [
        f"{where.host(slot.name)} slots={slots_per_pod(job.spec.task(slot.task), where.settings)}"
        for slot in pods
        if slot.task in where.workers
    ]
    return "".join(f"{line}\n" for line in lines)


def _metadata(where: MpiLayout, name: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": where.namespace,
        "labels": {JOB_LABEL: where.job},
        "ownerReferences": owner_references(meta),
    }


def service_manifest(where: MpiLayout, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Headless, over every pod of the job; not-ready pods are published too, so a worker's
    name resolves while its sshd starts."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(where, where.service, meta),
        "spec": {
            "clusterIP": "None",
            "selector": {JOB_LABEL: where.job},
            "publishNotReadyAddresses": True,
        },
    }


def config_map_manifest(
    job: ComputeJob, where: MpiLayout, meta: Mapping[str, Any], pods: Sequence[PodSlot]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(where, where.config_map, meta),
        "data": {HOSTFILE_KEY: hostfile(job, where, pods)},
    }


def secret_manifest(where: MpiLayout, meta: Mapping[str, Any], keys: SshKeys) -> dict[str, Any]:
    """The kubernetes.io/ssh-auth type (its private key under ssh-privatekey), plus the ssh
    config; the volume maps them to the file names ssh looks for."""

    def encoded(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/ssh-auth",
        "metadata": _metadata(where, where.secret, meta),
        "data": {
            SSH_PRIVATE_KEY: encoded(keys.private),
            SSH_PUBLIC_KEY: encoded(keys.public),
            SSH_CONFIG_KEY: encoded(SSH_CONFIG),
        },
    }


# --- the pods ------------------------------------------------------------------------------------

# What MPI Operator sets in its launcher for Open MPI (4: OMPI_MCA_orte_*, 5: PRTE_MCA_prte_*):
# keep the hostfile's full names (the short names do not resolve), find the hostfile without
# --hostfile, retry ssh while a worker's name is being published.
_LAUNCHER_ENV = {
    "OMPI_MCA_orte_keep_fqdn_hostnames": "true",
    "PRTE_MCA_prte_keep_fqdn_hostnames": "true",
    "OMPI_MCA_plm_rsh_args": "-o ConnectionAttempts=10",
    "PRTE_MCA_plm_rsh_args": "-o ConnectionAttempts=10",
}
# Containers run as root unless their template says otherwise, and mpirun refuses root without
# these; a template that picks a user gets none.
_ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def _picks_user(spec: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    for context in (spec.get("securityContext") or {}, container.get("securityContext") or {}):
        if context.get("runAsUser") is not None or context.get("runAsNonRoot"):
            return True
    return False


def _add_env(container: dict[str, Any], values: Mapping[str, str]) -> None:
    env = container.setdefault("env", [])
    named = {e.get("name") for e in env}
    env += [{"name": k, "value": v} for k, v in values.items() if k not in named]


def with_mpi(spec: dict[str, Any], where: MpiLayout, slot: PodSlot) -> None:
    """Give a pod of the job its stable name, the SSH volume, and for the launcher the hostfile
    and Open MPI's settings. The first container is the one that runs mpirun or sshd."""
    spec["hostname"] = slot.name
    spec["subdomain"] = where.service
    volumes = spec.setdefault("volumes", [])
    volumes.append(
        {
            "name": SSH_VOLUME,
            "secret": {
                "secretName": where.secret,
                "defaultMode": _SSH_MODE,
                "items": [
                    {"key": SSH_PRIVATE_KEY, "path": "id_ed25519"},
                    {"key": SSH_PUBLIC_KEY, "path": "id_ed25519.pub"},
                    {"key": SSH_PUBLIC_KEY, "path": "authorized_keys"},
                    {"key": SSH_CONFIG_KEY, "path": "config"},
                ],
            },
        }
    )
    containers = spec.get("containers") or []
    if not containers:
        return
    first = containers[0]
    mounts = first.setdefault("volumeMounts", [])
    mounts.append(
        {"name": SSH_VOLUME, "mountPath": where.settings.ssh_auth_mount_path, "readOnly": True}
    )
    if slot.task != where.launcher:
        return
    volumes.append({"name": HOSTFILE_VOLUME, "configMap": {"name": where.config_map}})
    # A subPath mount places the one file, whatever else the image has in that folder.
    mounts.append(
        {
            "name": HOSTFILE_VOLUME,
            "mountPath": where.settings.hostfile,
            "subPath": HOSTFILE_KEY,
            "readOnly": True,
        }
    )
    env = {
        **_LAUNCHER_ENV,
        "OMPI_MCA_orte_default_hostfile": where.settings.hostfile,
        "PRTE_MCA_prte_default_hostfile": where.settings.hostfile,
    }
    if not _picks_user(spec, first):
        env.update(_ROOT_ENV)
    _add_env(first, env)


# --- the launcher's gate -------------------------------------------------------------------------


def held_launchers(
    where: MpiLayout, pods: Sequence[PodSlot], existing: Collection[str], ready: Collection[str]
) -> tuple[list[str], str | None]:
    """The launcher pods not to create yet, and why: every worker pod must exist and be Ready.

    A launcher that exists already is left alone (it started when the workers were Ready).
    """
    workers = [s.name for s in pods if s.task in where.workers]
    waiting = [name for name in workers if name not in ready]
    held = [s.name for s in pods if s.task == where.launcher and s.name not in existing]
    if not waiting or not held:
        return [], None
    return held, (
        f"the launcher is created once every worker is Ready: {len(workers) - len(waiting)} "
        f"of {len(workers)} are"
    )
