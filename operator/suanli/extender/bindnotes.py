"""What a bind writes beside the node: the device in the terms of the pod's sharing stack, and
the data policy's rule that allows the node (re-checked, since the policy may have changed since
the filter)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from suanli.extender import explain
from suanli.extender.ports import BindError
from suanli.scoring import RECORDED, Allocation, DemandError, parse_pod
from suanli.scoring.datapolicy import DataPolicy
from suanli.scoring.facts import NodeFacts
from suanli.scoring.sharing import ShareStack, hami_annotations


def stack_annotations(
    pod: Mapping[str, Any], node: str, devices: Allocation, node_annotations: Mapping[str, str]
) -> dict[str, str]:
    """The chosen device in the terms of the pod's sharing stack (docs/shares.md): HAMi reads
    its own annotations; time-slicing cannot be told a device."""
    if not devices:
        return {}
    try:
        demand = parse_pod(pod)
    except DemandError:
        return {}
    if demand.share_stack is not ShareStack.HAMI:
        return {}
    return hami_annotations(node, devices, demand.requests, node_annotations, time.time())


def data_record(
    pod: Mapping[str, Any], node: str, facts: NodeFacts, policy: DataPolicy
) -> dict[str, str] | None:
    """For sensitive data, the policy's rule that allows the node (recorded with the
    placement); BindError when the policy, edited since the filter, no longer allows it."""
    try:
        data = parse_pod(pod).spec.data
    except DemandError:
        return None
    if data is None:
        return None
    rule = policy.allowing(data.classification, facts)
    if rule is None:
        refused = policy.refusal(data.classification, facts)
        raise BindError(f"{node}: {refused[0] if refused else 'data policy refuses it'}")
    if data.classification not in RECORDED:
        return None
    return explain.data_record(data.classification, policy, rule, facts)
