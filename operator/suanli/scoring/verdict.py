"""A node's verdict for a pod, and the reasons of those that cannot take it, summed up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    FEASIBLE = "feasible"
    RESOLVABLE = "resolvable"
    UNRESOLVABLE = "unresolvable"


@dataclass(frozen=True, slots=True)
class Verdict:
    node: str
    outcome: Outcome
    reason: str = ""  # for this node: "latency to sh-edge-1 is 220 ms > 20 ms"
    category: str = ""  # the same, without node specifics, for aggregation

    @property
    def feasible(self) -> bool:
        return self.outcome is Outcome.FEASIBLE


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a check fails: for this node, and without node specifics (`Verdict`)."""

    reason: str
    category: str


def aggregate_reasons(verdicts: Iterable[Verdict]) -> str:
    """`212 nodes: accelerator type not in [H100, A100]; 4 nodes: insufficient nvidia.com/gpu`:
    most frequent first, ties alphabetically, so the same cluster gives the same message."""
    return format_reason_counts(Counter(v.category or v.reason for v in verdicts if not v.feasible))


def format_reason_counts(counts: Mapping[str, int]) -> str:
    """The message of `aggregate_reasons` from counts of nodes per reason."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold(), item[0]))
    return "; ".join(
        f"{count} {'node' if count == 1 else 'nodes'}: {category}" for category, count in ordered
    )
