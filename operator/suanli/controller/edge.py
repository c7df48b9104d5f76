"""Tolerations for the taints edge nodes carry, given to jobs that ask for the edge.

KubeEdge's edge nodes are commonly tainted `node-role.kubernetes.io/edge:NoSchedule` so that
cloud workloads stay off them; a ComputeJob whose `locality.tiers` names `edge` or `device`
asked for those nodes, so its pods tolerate that taint. A job that names no tier may still use
untainted edge nodes (they score lower), but it does not tolerate edge taints: a taint is the
site's way of saying "only work that asks for the edge".

OpenYurt sets no taint on a healthy edge node (a NodePool's `spec.taints` are the site's own:
add them to the list). Its one taint, `node.openyurt.io/unschedulable`, marks a node that lost
direct contact with the apiserver; it is deliberately not tolerated by default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from suanli.api import ComputeJob, Tier

DEFAULT_EDGE_TOLERATIONS = ("node-role.kubernetes.io/edge:NoSchedule",)
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# kubectl taint's syntax: key[=value][:effect], the key a qualified name.
_SPEC = re.compile(
    r"^(?P<key>([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)"
    r"(=(?P<value>[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)?(:(?P<effect>[A-Za-z]+))?$"
)


def parse_toleration(text: str) -> dict[str, str]:
    """`key[=value][:effect]` as a core/v1 Toleration: Exists without a value, Equal with one,
    every effect without one. ValueError names what is wrong and the syntax."""
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(
            f"edge toleration {text!r} is not key[=value][:effect] "
            "(e.g. node-role.kubernetes.io/edge:NoSchedule)"
        )
    effect = match["effect"]
    if effect is not None and effect not in _EFFECTS:
        raise ValueError(
            f"edge toleration {text!r}: effect {effect!r} is not one of {', '.join(_EFFECTS)}"
        )
    value = match["value"]
    toleration = {"key": match["key"], "operator": "Equal" if value else "Exists"}
    if value:
        toleration["value"] = value
    if effect:
        toleration["effect"] = effect
    return toleration


def parse_tolerations(texts: Sequence[str]) -> tuple[dict[str, str], ...]:
    return tuple(parse_toleration(t) for t in texts if t.strip())


DEFAULTS = parse_tolerations(DEFAULT_EDGE_TOLERATIONS)


def wants_edge(job: ComputeJob) -> bool:
    tiers = job.spec.locality.tiers if job.spec.locality else []
    return Tier.EDGE in tiers or Tier.DEVICE in tiers


def with_edge_tolerations(
    job: ComputeJob, pod_spec: dict[str, Any], configured: Sequence[dict[str, str]]
) -> None:
    """Add the configured tolerations to an edge job's pod spec, keeping the template's own."""
    if not wants_edge(job):
        return
    present = pod_spec.get("tolerations") or []
    pod_spec["tolerations"] = [*present, *(dict(t) for t in configured if t not in present)]
