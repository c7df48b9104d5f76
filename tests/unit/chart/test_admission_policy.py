"""The chart's admission policy is the one `suanli dev` installs, with the chart's identities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.devcluster.admission import policy_spec
from tests.unit.chart.helm import NAMESPACE, render

OPERATOR = f"system:serviceaccount:{NAMESPACE}:suanli-operator"


@dataclass(frozen=True)
class Case:
    name: str
    values: dict[str, Any]
    trusted: list[str] = field(default_factory=lambda: [OPERATOR])
    allow_plain_pods: bool = True


CASES = [
    Case("default", {}),
    Case("ComputeJobs only", {"admissionPolicy.allowPlainPods": False}, allow_plain_pods=False),
    Case(
        "more trusted users",
        {"admissionPolicy.trustedUsers": ["system:serviceaccount:ci:pipeline"]},
        trusted=[OPERATOR, "system:serviceaccount:ci:pipeline"],
    ),
    Case(
        "an existing operator account",
        {"operator.serviceAccount": {"create": False, "name": "ops"}},
        trusted=[f"system:serviceaccount:{NAMESPACE}:ops"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_chart_renders_the_policy_suanli_dev_installs(case: Case) -> None:
    manifest = render(values=case.values)
    rendered = manifest.get("ValidatingAdmissionPolicy", "suanli-scheduling")["spec"]
    expected = policy_spec(
        case.trusted, ["suanli-scheduler"], allow_plain_pods=case.allow_plain_pods
    )
    assert rendered == expected
    binding = manifest.get("ValidatingAdmissionPolicyBinding", "suanli-scheduling")["spec"]
    assert binding == {"policyName": "suanli-scheduling", "validationActions": ["Deny"]}


@pytest.mark.parametrize(
    ("values", "kube_version"),
    [({"admissionPolicy.enabled": False}, "v1.37.2"), ({}, "v1.29.4")],
    ids=["turned off", "before Kubernetes 1.30"],
)
def test_no_policy_when_off_or_unavailable(values: dict[str, Any], kube_version: str) -> None:
    manifest = render(values=values, kube_version=kube_version)
    assert not list(manifest.kinds("ValidatingAdmissionPolicy"))
    assert not list(manifest.kinds("ValidatingAdmissionPolicyBinding"))
