"""What the webhook checks of a ComputeJob the CRD's schema has admitted.

The catalog and data policy checks, the quantities of the templates' resources (the apiserver cannot
even decode a Pod with a malformed one, so its answer names no field), and a dry run of one pod per
task, so anything else the apiserver would refuse the pods for is refused with the job. The dry run
is passed in: the rest is pure.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from suanli.api import ComputeJob, Task
from suanli.controller.datacheck import data_problems
from suanli.controller.podspec import pod_manifest
from suanli.controller.refusal import refusal_from
from suanli.controller.slots import PodSlot
from suanli.controller.validation import catalog_problems
from suanli.scoring import BASELINE_POLICY, Catalog, DataPolicy

DryRun = Callable[[str, dict[str, Any]], Awaitable[None]]
# A uid for the pods' owner reference while the job has none yet (never stored: a dry run).
_NO_UID = "00000000-0000-0000-0000-000000000000"
# resource.Quantity's text form: a signed decimal number, then a binary or decimal suffix or an
# exponent.
QUANTITY = re.compile(
    r"[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(\d+(\.\d*)?|\.\d+)))?"
)
_CONTAINER_LISTS = ("containers", "initContainers")


def _quantity_problems(task: Task, where: str) -> Iterator[str]:
    spec = task.template.get("spec") or {}
    for kind in _CONTAINER_LISTS:
        for index, container in enumerate(spec.get(kind) or []):
            resources = container.get("resources") if isinstance(container, dict) else None
            for part in ("limits", "requests"):
                values = (resources or {}).get(part) if isinstance(resources, dict) else None
                for name, value in (values or {}).items() if isinstance(values, dict) else ():
                    ok = isinstance(value, int | float) and not isinstance(value, bool)
                    if not ok and not (isinstance(value, str) and QUANTITY.fullmatch(value)):
                        yield (
                            f"{where}.template.spec.{kind}[{index}].resources.{part}[{name}]: "
                            f"{value!r} is not a quantity (e.g. 500m, 2, 1Gi)"
                        )


async def review_job(
    body: dict[str, Any],
    namespace: str,
    catalog: Catalog,
    dry_run: DryRun,
    data_policy: DataPolicy = BASELINE_POLICY,
) -> tuple[list[str], list[str]]:
    """(problems that refuse the job, warnings) for a job the CRD's schema has admitted.

    One pod per task is dry-run: the pods of a task differ only in their index.
    """
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return [], []  # a job on its way out (finalizers being removed) is not held back
    try:
        job = ComputeJob.model_validate(body)
    except ValidationError:
        return [], []  # the schema reports what is malformed, field by field
    problems = catalog_problems(job, catalog) + data_problems(job, data_policy)
    warnings: list[str] = []
    meta = dict(body.get("metadata") or {})
    meta.setdefault("namespace", namespace)
    meta.setdefault("uid", _NO_UID)
    name = str(meta.get("name") or "")
    for index, task in enumerate(job.spec.tasks):
        malformed = list(_quantity_problems(task, f"spec.tasks[{index}]"))
        if malformed:
            problems += malformed
            continue  # the apiserver would say the same, without naming the field
        slot = PodSlot(f"{name}-{task.name}-0", task.name, 0)
        try:
            await dry_run(namespace, pod_manifest(job, meta, slot, catalog))
        except ApiException as error:
            if error.status == 409:
                continue  # that pod exists already (an update): it was valid
            refusal = refusal_from(slot.name, index, error.status, error.body)
            if refusal.permanent:
                problems += refusal.field_messages()
            else:
                warnings.append(f"the job's pods cannot be created now: {refusal.describe()}")
    return problems, warnings
