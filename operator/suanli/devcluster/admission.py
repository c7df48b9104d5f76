"""The admission policy that keeps tenants from placing pods by Suanli's annotations.

A ValidatingAdmissionPolicy (CEL, evaluated inside kube-apiserver) refuses any pod that sets or
changes a scheduling annotation (`suanli.scoring.SCHEDULING_ANNOTATIONS`) unless the request
comes from a trusted identity: the operator, which writes them on the pods of an admitted
ComputeJob. With `allow_plain_pods=False` it also refuses pods that choose Suanli's scheduler at
all. The chart's template (`charts/suanli/templates/admission-policy.yaml`) carries the same
objects with Helm values filled in; a unit test renders both and compares them, so `suanli dev`
enforces what an install does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from suanli.keys import SCHEDULING_ANNOTATIONS

POLICY_NAME = "suanli.dev-scheduling"
_API_VERSION = "admissionregistration.k8s.io/v1"


def _cel_list(values: Sequence[str]) -> str:
    # A JSON array of plain strings is also a CEL list literal.
    return json.dumps(list(values), separators=(",", ":"))


def policy_spec(
    trusted_users: Sequence[str], scheduler_names: Sequence[str], *, allow_plain_pods: bool
) -> dict[str, Any]:
    validations: list[dict[str, str]] = [
        {
            "expression": "size(variables.changed) == 0",
            "messageExpression": (
                "'metadata.annotations: ' + variables.changed.join(', ') + ' place a pod and "
                "are written only by Suanli (the operator, on the pods of an admitted "
                "ComputeJob), not by ' + request.userInfo.username + ': submit a ComputeJob, "
                "or drop these annotations'"
            ),
            "reason": "Forbidden",
        }
    ]
    if not allow_plain_pods:
        validations.append(
            {
                "expression": (
                    "request.operation != 'CREATE' || "
                    "!(object.spec.schedulerName in variables.schedulers)"
                ),
                "messageExpression": (
                    "'spec.schedulerName: ' + object.spec.schedulerName + ' places only the "
                    "pods of ComputeJobs, which the operator creates; ' + "
                    "request.userInfo.username + ' may not choose it: submit a ComputeJob, or "
                    "leave spec.schedulerName unset for the default scheduler'"
                ),
                "reason": "Forbidden",
            }
        )
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    # The Binding the extender creates is the pods/binding subresource: not
                    # matched, so its gpu-devices annotation passes.
                    "resources": ["pods"],
                }
            ]
        },
        "matchConditions": [
            {
                "name": "not-suanli",
                "expression": f"!(request.userInfo.username in {_cel_list(trusted_users)})",
            }
        ],
        "variables": [
            {"name": "keys", "expression": _cel_list(SCHEDULING_ANNOTATIONS)},
            {"name": "schedulers", "expression": _cel_list(scheduler_names)},
            {"name": "now", "expression": "object.metadata.?annotations.orValue({})"},
            {
                "name": "before",
                "expression": (
                    "oldObject == null ? {} : oldObject.metadata.?annotations.orValue({})"
                ),
            },
            {
                # Set, changed or removed: a tenant may not edit the operator's pods either.
                "name": "changed",
                "expression": (
                    "variables.keys.filter(k, (k in variables.now) != (k in variables.before) "
                    "|| (k in variables.now && variables.now[k] != variables.before[k]))"
                ),
            },
        ],
        "validations": validations,
    }


def policy_objects(
    trusted_users: Sequence[str],
    scheduler_names: Sequence[str] = ("suanli-scheduler",),
    *,
    allow_plain_pods: bool = True,
    name: str = POLICY_NAME,
) -> list[dict[str, Any]]:
    """The policy and its binding (Deny), ready to apply."""
    spec = policy_spec(trusted_users, scheduler_names, allow_plain_pods=allow_plain_pods)
    return [
        {
            "apiVersion": _API_VERSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": spec,
        },
        {
            "apiVersion": _API_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        },
    ]
