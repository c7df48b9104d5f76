"""No silent failures (issue 11): what the job's pods would be refused for is refused at apply,
any other refusal of a pod shows on the job within seconds, and every operator replica serves
the webhook, leader or not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kubernetes import client

from suanli.api import ComputeJob
from suanli.api.models import GROUP, PLURAL, VERSION
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.controller.webhook import CONFIGURATION
from suanli.devcluster.pki import CertificateAuthority
from suanli.kube.client import post_json
from tests.integration.conftest import OPERATOR_NAMESPACE, ControlPlane, Operator
from tests.integration.helpers import delete_namespace_and_wait, eventually, new_namespace

# A refusal names the job's field: its name, or a field of (or the whole of) a task's template.
FIELD_MESSAGE = r"(metadata\.name|spec\.tasks\[\d+\]\.template[^:]*): "


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "wh")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


@pytest.fixture
def custom(control_plane: ControlPlane) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(control_plane.core.api_client)


def _job(name: str, template: dict[str, Any], task: str = "work") -> dict[str, Any]:
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": {
            "workload": "batch",
            "tasks": [{"name": task, "replicas": 2, "template": template}],
        },
    }


def _template(**container: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "main", "image": "busybox", **container}]}}


def _apply(control_plane: ControlPlane, namespace: str, body: dict[str, Any]) -> str:
    """kubectl apply, as a user does; the error text when it is refused, "" when admitted."""
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


def _status(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return dict(body.get("status") or {})


def _events(control_plane: ControlPlane, namespace: str, name: str) -> list[dict[str, Any]]:
    response: Any = control_plane.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}", _preload_content=False
    )
    return list(json.loads(response.data)["items"])


@dataclass(frozen=True)
class Refused:
    id: str
    job: dict[str, Any]
    field: str  # the job's field the message must name
    words: str  # and what it must say about it


REFUSED_AT_APPLY = (
    Refused("name-over-63", _job("n" * 64, _template()), "metadata.name", "at most 63"),
    Refused(
        "no-image",
        _job("no-image", {"spec": {"containers": [{"name": "main"}]}}),
        "spec.tasks[0].template.spec.containers[0].image",
        "Required value",
    ),
    # What only a dry run of the pods finds: the schema does not know these fields.
    Refused(
        "port-out-of-range",
        _job("bad-port", _template(ports=[{"containerPort": 70000}])),
        "spec.tasks[0].template.spec.containers[0].ports[0].containerPort",
        "between 1 and 65535",
    ),
    Refused(
        "bad-quantity",
        _job("bad-cpu", _template(resources={"limits": {"cpu": "lots"}})),
        "spec.tasks[0].template.spec.containers[0].resources.limits[cpu]",
        "is not a quantity",
    ),
    Refused(
        "bad-label-key",
        _job(
            "bad-label-key",
            {"metadata": {"labels": {"not a key!": "x"}}, **_template()},
        ),
        "spec.tasks[0].template.metadata.labels",
        "name part must consist of",
    ),
)


@pytest.mark.parametrize("case", REFUSED_AT_APPLY, ids=lambda c: c.id)
def test_what_the_pods_would_be_refused_for_is_refused_at_apply(
    control_plane: ControlPlane, namespace: str, case: Refused
) -> None:
    message = _apply(control_plane, namespace, case.job)
    assert message, f"{case.id} was admitted"
    assert f"{case.field}: " in message or f"{case.field}[" in message, message
    assert case.words in message, message


def test_a_refusal_only_the_apiserver_makes_fails_the_job_with_its_message(
    control_plane: ControlPlane, namespace: str, custom: client.CustomObjectsApi
) -> None:
    """A policy the dry run does not meet (it skips dry runs) refuses the real pods."""
    policy = f"refuse-marked-pods-{namespace}"
    kube = client.AdmissionregistrationV1Api(control_plane.core.api_client)
    kube.create_validating_admission_policy(
        {
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ],
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": namespace}
                    },
                },
                "validations": [
                    {
                        "expression": "request.dryRun == true || !has(object.metadata.labels) "
                        "|| !('refuse-me' in object.metadata.labels)",
                        "message": "pods labelled refuse-me are not allowed here",
                    }
                ],
            },
        }
    )
    kube.create_validating_admission_policy_binding(
        {
            "metadata": {"name": policy},
            "spec": {"policyName": policy, "validationActions": ["Deny"]},
        }
    )
    try:
        time.sleep(2)  # the policy reaches the apiserver's admission cache
        template = {"metadata": {"labels": {"refuse-me": "yes"}}, **_template()}
        assert _apply(control_plane, namespace, _job("refused", template)) == ""
        began = time.monotonic()
        status = eventually(
            lambda: (s := _status(custom, namespace, "refused")).get("phase") == "Failed" and s,
            30,
            "the job Failed",
        )
        assert time.monotonic() - began < 15
        failed = next(c for c in status["conditions"] if c["type"] == "Failed")
        assert failed["reason"] == "PodRejected"
        assert "pods labelled refuse-me are not allowed here" in failed["message"]
        # The event is posted after the status is written: it may trail it by a moment.
        eventually(
            lambda: any(
                e["reason"] == "PodRejected" and "refuse-me" in e["message"]
                for e in _events(control_plane, namespace, "refused")
            ),
            15,
            "the PodRejected event naming the policy's message",
        )
    finally:
        kube.delete_validating_admission_policy_binding(policy)
        kube.delete_validating_admission_policy(policy)


def test_a_full_quota_makes_the_job_wait_and_say_why_then_run(
    control_plane: ControlPlane, namespace: str, custom: client.CustomObjectsApi
) -> None:
    core = control_plane.core
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    )
    time.sleep(1)  # the quota is counted before the job's pods arrive
    assert _apply(control_plane, namespace, _job("waits", _template())) == ""
    status = eventually(
        lambda: (
            (s := _status(custom, namespace, "waits"))
            and any(
                c["type"] == "PodsCreated" and c["status"] == "False"
                for c in s.get("conditions", [])
            )
            and s
        ),
        30,
        "PodsCreated=False",
    )
    waiting = next(c for c in status["conditions"] if c["type"] == "PodsCreated")
    assert "exceeded quota" in waiting["message"], waiting
    assert status.get("phase") != "Failed"
    # The event is posted after the status is written: it may trail it by a moment.
    eventually(
        lambda: any(
            e["reason"] == "PodCreateRefused" for e in _events(control_plane, namespace, "waits")
        ),
        15,
        "the PodCreateRefused event",
    )
    core.delete_namespaced_resource_quota("no-pods", namespace)
    status = eventually(
        lambda: (
            (s := _status(custom, namespace, "waits")).get("phase") in ("Running", "Succeeded")
            and s
        ),
        90,
        "the job runs once the quota is gone",
    )
    created = next(c for c in status["conditions"] if c["type"] == "PodsCreated")
    assert created["status"] == "True"


# --- the fuzz test: whatever the CRD and the webhook admit, the apiserver accepts as pods --------


# Each fuzzed job breaks at most one kind of field (a job with every field wrong only shows that
# the schema refuses something), with a valid and an invalid strategy per kind.
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "job-name": (
        st.from_regex(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?(\.[a-z]{1,10})?", fullmatch=True),
        st.from_regex(r"[a-z]{64,80}", fullmatch=True),
    ),
    "container-name": (st.just(None), st.sampled_from(["Main", "a_b", "c" * 64, "c0"])),
    # "\u00a0" is a blank to the Pod API but not to the schema's pattern: only the dry run sees it.
    "image": (
        st.sampled_from(["busybox", "reg.example/a/b:1.2", "b@sha256:" + "0" * 64]),
        st.sampled_from(["", " busybox", "busybox\t", "\u00a0busybox", None]),
    ),
    "quantity": (st.sampled_from(["1", "500m", "0.5", 2]), st.sampled_from(["lots", "-1", "1Gb"])),
    "port": (st.integers(1, 65535), st.integers(-5, 0) | st.integers(65536, 70000)),
    "protocol": (st.sampled_from(["TCP", "UDP", "SCTP"]), st.sampled_from(["HTTP", "tcp"])),
    "env": (st.sampled_from(["HOME", "my.var", "A_1"]), st.sampled_from(["", "a=b"])),
    "label-key": (
        st.sampled_from(["team", "app.kubernetes.io/name", "x.io/y"]),
        st.sampled_from(["bad key", "-a", "a" * 64, "a/b/c"]),
    ),
    "label-value": (
        st.sampled_from(["a", "v1.2", "", "x_y"]),
        st.sampled_from(["a b", "-a", "a-", "v" * 64]),
    ),
    "hostname": (st.sampled_from(["worker", "h-1"]), st.sampled_from(["Bad_Host", "a" * 64])),
    "volume": (st.just("data"), st.just("missing")),
}


@st.composite
def _fuzzed_jobs(draw: st.DrawFn) -> dict[str, Any]:
    broken = draw(st.sampled_from([None, None, None, *FIELDS]))

    def field(kind: str) -> Any:
        good, bad = FIELDS[kind]
        return draw(bad if kind == broken else good)

    containers = []
    for index in range(draw(st.integers(1, 3))):
        container: dict[str, Any] = {"name": field("container-name") or f"c{index}"}
        if (image := field("image")) is not None:
            container["image"] = image
        if draw(st.booleans()):
            container["resources"] = {"limits": {"cpu": field("quantity"), "memory": "1Gi"}}
        if draw(st.booleans()):
            container["ports"] = [{"containerPort": field("port"), "protocol": field("protocol")}]
        if draw(st.booleans()):
            container["env"] = [{"name": field("env"), "value": "v"}]
        if draw(st.integers(0, 4)) == 0:
            # A field the client library's models do not know; the apiserver drops or refuses it.
            container["futureField"] = {"enabled": True}
        if draw(st.booleans()):
            container["volumeMounts"] = [{"name": field("volume"), "mountPath": "/data"}]
        containers.append(container)
    spec: dict[str, Any] = {
        "containers": containers,
        "volumes": [{"name": "data", "emptyDir": {}}],
    }
    if draw(st.booleans()):
        spec["hostname"] = field("hostname")
    template: dict[str, Any] = {"spec": spec}
    if draw(st.booleans()):
        template["metadata"] = {"labels": {field("label-key"): field("label-value")}}
    task = draw(st.from_regex(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True))
    return _job(field("job-name"), template, task=task)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_fuzzed_jobs())
def test_what_the_crd_and_webhook_admit_makes_pods_the_apiserver_accepts(
    control_plane: ControlPlane, namespace: str, custom: client.CustomObjectsApi, body: Any
) -> None:
    refused: client.ApiException | None = None
    try:
        # A dry run of the job still goes through the schema, the CEL rules and the webhook.
        stored = custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, dry_run="All"
        )
    except client.ApiException as error:
        refused = error
    if refused is not None:
        message = json.loads(refused.body)["message"]
        event("refused by " + ("webhook" if "admission webhook" in message else "schema"))
        assert refused.status in (422, 400), message
        assert re.search(FIELD_MESSAGE, message), message
        return
    event("admitted")
    job = ComputeJob.model_validate(stored)
    catalog = ScoringConfigFiles(None, None).catalog  # the operator's, built in
    for slot in slots(job, stored["metadata"]["name"]):
        manifest = pod_manifest(job, stored["metadata"], slot, catalog)
        try:
            # Raw JSON: the apiserver judges, not the client library's models.
            post_json(
                control_plane.core.api_client,
                f"/api/v1/namespaces/{namespace}/pods",
                manifest,
                dry_run=True,
            )
        except client.ApiException as error:
            pytest.fail(f"admitted, but its pod {slot.name} is refused: {error.body}")


# --- every replica serves the webhook ------------------------------------------------------------


def _holder(control_plane: ControlPlane) -> str:
    lease = client.CoordinationV1Api(control_plane.core.api_client).read_namespaced_lease(
        "suanli-operator", OPERATOR_NAMESPACE
    )
    return str(lease.spec.holder_identity or "")


def _webhook_port(control_plane: ControlPlane) -> int:
    kube = client.AdmissionregistrationV1Api(control_plane.core.api_client)
    url = kube.read_validating_webhook_configuration(CONFIGURATION).webhooks[0].client_config.url
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _shared_certificate(directory: Path) -> Path:
    """What the chart's Secret holds: one CA and one serving pair for all replicas."""
    authority = CertificateAuthority(directory / "ca")
    pair = authority.issue("webhook", "127.0.0.1", server_ips=("127.0.0.1",))
    shared = directory / "shared"
    shared.mkdir()
    shutil.copy(pair.cert, shared / "tls.crt")
    shutil.copy(pair.key, shared / "tls.key")
    shutil.copy(authority.pair.cert, shared / "ca.crt")
    return shared


UNKNOWN_TYPE = {
    "apiVersion": "suanli.dev/v1alpha1",
    "kind": "ComputeJob",
    "metadata": {"name": "unknown-type"},
    "spec": {
        "workload": "training",
        "tasks": [
            {
                "name": "worker",
                "replicas": 1,
                "accelerators": {"count": 1, "types": ["H1000"]},
                "template": _template(),
            }
        ],
    },
}


def test_two_replicas_both_serve_the_webhook_and_the_standby_is_ready_without_leading(
    control_plane: ControlPlane, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    shared = ("--webhook-cert-dir", str(_shared_certificate(tmp_path)))
    first = Operator(control_plane, tmp_path, identity="replica-a", args=shared)
    second = Operator(control_plane, tmp_path, identity="replica-b", args=shared)
    operator.stop()  # releases the Lease: the first replica here takes it
    try:
        first.start()
        eventually(lambda: _holder(control_plane) == first.identity, 30, "replica-a leads")
        second.start()  # returns once its /readyz says it serves: before and without the Lease
        assert _holder(control_plane) == first.identity
        # The standby wrote the configuration last: the apiserver now calls the standby.
        assert _webhook_port(control_plane) == second.webhook_port
        message = _apply(control_plane, namespace, UNKNOWN_TYPE)
        assert "unknown accelerator type 'H1000'" in message, message
        assert _holder(control_plane) == first.identity
        # The leader answers as well: it trusts the same CA, so whichever writes last, both do.
        first.stop()
        first.start()
        assert _webhook_port(control_plane) == first.webhook_port
        assert "unknown accelerator type" in _apply(control_plane, namespace, UNKNOWN_TYPE)
        assert first.ready()
        assert second.ready()
    finally:
        first.stop()
        second.stop()
        operator.start()
    eventually(
        lambda: _holder(control_plane) == operator.identity, 60, "the session operator leads"
    )
