"""The generated ComputeJob CRD in a real kube-apiserver.

It must be accepted (structural, CEL within cost budgets), admit every example, show its
printer columns, and refuse every bad job with an error that names the field.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kubernetes import client

from suanli.api import ComputeJob, crd, models
from tests.integration.conftest import ControlPlane
from tests.unit.api.invalid_specs import CASES, Case, full_job
from tests.unit.api.mutations import Mutation, invalid_jobs

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "suanli.dev_computejobs.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _kubectl(
    control_plane: ControlPlane, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """kubectl that may fail: the refusals are what these tests look at."""
    return subprocess.run(
        [
            str(Path(control_plane.state.bin_dir) / "kubectl"),
            f"--kubeconfig={control_plane.kubeconfig}",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _wait_served(api: client.CustomObjectsApi, namespace: str) -> None:
    # Established comes slightly before the handler serves the new resource.
    deadline = time.monotonic() + 30
    while True:
        try:
            api.list_namespaced_custom_object(
                models.GROUP, models.VERSION, namespace, "computejobs"
            )
            return
        except client.ApiException as error:
            if error.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd.NAME}")
    created = control_plane.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(generate_name="crd-test-"))
    )
    name = created.metadata.name
    _wait_served(client.CustomObjectsApi(control_plane.core.api_client), name)
    try:
        yield name
    finally:
        control_plane.core.delete_namespace(name)


@pytest.fixture(scope="module")
def custom(control_plane: ControlPlane) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(control_plane.core.api_client)


def test_crd_is_served_with_its_names(control_plane: ControlPlane, namespace: str) -> None:
    resources = control_plane.kubectl("api-resources", f"--api-group={models.GROUP}", "-o", "wide")
    row = next(line for line in resources.splitlines() if line.startswith("computejobs"))
    assert "cj,cjob" in row
    assert "ComputeJob" in row
    assert "suanli" in row  # category


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_admitted(control_plane: ControlPlane, namespace: str, path: Path) -> None:
    result = _kubectl(
        control_plane,
        "apply",
        "--dry-run=server",
        "--validate=strict",
        f"--namespace={namespace}",
        "-f",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert "created (server dry run)" in result.stdout


def _get(control_plane: ControlPlane, namespace: str, *args: str) -> list[list[str]]:
    text = control_plane.kubectl("get", f"--namespace={namespace}", *args)
    return [line.split() for line in text.splitlines()]


@pytest.mark.usefixtures("no_operator")  # the status is written here, not by an operator
def test_examples_show_printer_columns(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl("apply", f"--namespace={namespace}", "-f", str(ROOT / "examples"))
    status = {
        "phase": "Running",
        "tasksReady": 3,
        "tasksTotal": 4,
        "ready": models.ready_text(3, 4),
        "acceleratorType": "H100",
        "nodes": "h100-use1-[0-3]",
        "pricePerHour": 393.28,
    }
    control_plane.kubectl(
        "patch",
        f"--namespace={namespace}",
        "computejob/llm-finetune",
        "--subresource=status",
        "--type=merge",
        f"--patch={json.dumps({'status': status})}",
    )
    rows = _get(control_plane, namespace, "cjob")
    assert rows[0] == ["NAME", "PHASE", "READY", "ACCELERATOR", "NODES", "COST/H", "AGE"]
    names = {yaml.safe_load(p.read_text())["metadata"]["name"] for p in EXAMPLES}
    assert names <= {row[0] for row in rows[1:]}
    training = next(row for row in rows if row[0] == "llm-finetune")
    assert training[1:6] == ["Running", "3/4", "H100", "h100-use1-[0-3]", "393.28"]
    wide = _get(control_plane, namespace, "computejobs", "-o", "wide")
    assert "WORKLOAD" in wide[0]
    assert names <= {
        row[0].removeprefix("computejob.suanli.dev/")
        for row in _get(control_plane, namespace, "suanli")
    }


def test_stored_job_reads_back_with_server_defaults(
    control_plane: ControlPlane, namespace: str, custom: client.CustomObjectsApi
) -> None:
    created: dict[str, Any] = custom.create_namespaced_custom_object(
        models.GROUP, models.VERSION, namespace, "computejobs", full_job("defaults")
    )
    job = ComputeJob.model_validate(created)
    assert job.spec.run_policy.backoff_limit == 3
    edge = yaml.safe_load((ROOT / "examples" / "edge-inference.yaml").read_text())
    edge["metadata"]["name"] = "edge-defaults"
    stored = ComputeJob.model_validate(
        custom.create_namespaced_custom_object(
            models.GROUP, models.VERSION, namespace, "computejobs", edge
        )
    )
    # runPolicy was not written: its empty default lets the apiserver fill the nested ones.
    assert stored.spec.run_policy.model_dump(by_alias=True, exclude_none=True) == {
        "backoffLimit": 3,
        "suspend": False,
    }
    assert stored.spec.cost is not None
    assert stored.spec.cost.billing == "on-demand"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_invalid_spec_is_refused_naming_the_field(
    control_plane: ControlPlane, namespace: str, case: Case
) -> None:
    result = _kubectl(
        control_plane,
        "apply",
        "--dry-run=server",
        "--validate=strict",
        f"--namespace={namespace}",
        "-f",
        "-",
        stdin=yaml.safe_dump(case.job(case.id)),
    )
    assert result.returncode != 0, f"{case.id} was admitted"
    assert _names(result.stderr, case.field), result.stderr


def _names(message: str, field: str) -> bool:
    """Whether an apiserver error points at `field` (as `field: ...` or an unknown field)."""
    return f"{field}: " in message or f'unknown field "{field}"' in message


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    mutation=invalid_jobs([full_job("fuzz"), *(yaml.safe_load(p.read_text()) for p in EXAMPLES)])
)
def test_random_schema_violations_are_refused(
    custom: client.CustomObjectsApi, namespace: str, mutation: Mutation
) -> None:
    with pytest.raises(client.ApiException) as refused:
        custom.create_namespaced_custom_object(
            models.GROUP,
            models.VERSION,
            namespace,
            "computejobs",
            mutation.job,
            dry_run="All",
            field_validation="Strict",
        )
    message = json.loads(refused.value.body)["message"]
    assert _names(message, mutation.field), (mutation, message)
