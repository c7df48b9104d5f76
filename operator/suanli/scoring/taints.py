"""Node taints and pod tolerations, matched as kube-scheduler's TaintToleration plugin does.

kube-scheduler filters out nodes whose NoSchedule or NoExecute taints a pod does not tolerate
before it asks the extender, so the extender never sees them. The operator's gang planning asks
the same decider about every node, so the decider has to know taints too, or it would plan pods
onto nodes kube-scheduler will never offer. PreferNoSchedule is only a preference in
kube-scheduler's scoring; it is not read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
_REPELLING = frozenset({NO_SCHEDULE, NO_EXECUTE})


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""  # empty with Exists: every key
    operator: str = "Equal"  # Equal | Exists
    value: str = ""
    effect: str = ""  # empty: every effect

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return bool(self.key) and self.value == taint.value


def _items(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def node_taints(spec: Mapping[str, Any]) -> tuple[Taint, ...]:
    """The taints of a Node's spec that keep pods off (NoSchedule, NoExecute)."""
    found = (
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in _items(spec.get("taints"))
    )
    return tuple(sorted((t for t in found if t.effect in _REPELLING), key=str))


def pod_tolerations(spec: Mapping[str, Any]) -> tuple[Toleration, ...]:
    """A Pod spec's tolerations; the apiserver has validated their shape already."""
    return tuple(
        Toleration(
            key=str(t.get("key") or ""),
            operator=str(t.get("operator") or "Equal"),
            value=str(t.get("value") or ""),
            effect=str(t.get("effect") or ""),
        )
        for t in _items(spec.get("tolerations"))
    )


def untolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> Taint | None:
    """The first taint no toleration matches, or None."""
    return next((t for t in taints if not any(o.tolerates(t) for o in tolerations)), None)
