"""The objects an MPI job's pods need, made before the pods: Service, hostfile, SSH key pair.

Level-triggered like the pods: each is created when the job's pods are about to be created,
under a deterministic name, so a restart or a retry finds it there (409) and creates no second
one. The Service is made first and, when one of that name exists, read: it must be the job's own
(its owner reference). Anything else (a user's Service of the same name, the leftovers of a
deleted job of that name that the garbage collector has not removed yet) holds the pods back,
said on the job, until it is gone. The ConfigMap and the Secret are only ever created, never read
or rewritten: the operator may create them but read none (least privilege: no ConfigMap of
kube-system, no Secret anywhere), so one found under the name is taken for the job's, which the
Service checked just before vouches for. The key pair of a job thus stays the one its running
pods hold, and the hostfile the one written when its pods were first created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from suanli.api import ComputeJob
from suanli.controller import sshkeys
from suanli.controller.mpi import (
    MpiLayout,
    config_map_manifest,
    secret_manifest,
    service_manifest,
)
from suanli.controller.owners import owned_by
from suanli.controller.refusal import PodRefusal, refusal_from
from suanli.controller.slots import slots
from suanli.controller.store import JobStore


async def ensure(
    store: JobStore, job: ComputeJob, meta: Mapping[str, Any], where: MpiLayout
) -> PodRefusal | None:
    """Make sure the job's Service, ConfigMap and Secret exist and are its own; the apiserver's
    refusal (or the foreign owner) of the first that is not, else None."""
    pods = slots(job, where.job)
    wanted = [
        service_manifest(where, meta),
        config_map_manifest(job, where, meta, pods),
        secret_manifest(where, meta, sshkeys.generate(f"{where.job}@{where.namespace}")),
    ]
    for manifest in wanted:
        kind, name = str(manifest["kind"]), str(manifest["metadata"]["name"])
        try:
            stored = await store.create_object(
                where.namespace, manifest, read_existing=kind == "Service"
            )
        except ApiException as error:
            refused = refusal_from(name, 0, error.status, error.body)
            # The causes point into the object, not into a task's template.
            return dataclasses.replace(refused, kind=kind, causes=())
        if stored is None:
            continue  # it exists: the job's, made by an earlier attempt
        if not owned_by(stored, str(meta["uid"])):
            return PodRefusal(
                pod=name,
                task_index=0,
                code=409,
                reason="AlreadyExists",
                message=(
                    f"a {kind} named {name} exists and is not this job's; the pods are created "
                    "once it is deleted"
                ),
                kind=kind,
            )
    return None
