"""The records the judge keeps between decisions, and the parts of one decision they hold.

Plain data: what is in them is worked out by the judge (`suanli.state.judge`), the reading of
the states (`suanli.state.scan`) and of the classes (`suanli.state.classes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from suanli.scoring import NodeFacts, Outcome

Reason = tuple[Outcome, str]


class ClassPart(NamedTuple):
    # A named tuple: one is made per class and decision, and a tuple is made fastest.
    failure: Reason | None
    partial: float  # the weighted facts-only signals, summed in the order of SCORERS
    reserved: float  # milli-devices of typed capacity the pod takes on this class


Ranked = list[tuple[float, int, ClassPart]]  # (best total reachable, class, class part)


@dataclass(slots=True)
class Order:
    """A class's usage states by expected fragmentation, most first (ties by state id), as
    of a room version of the class and for the workload shapes the judge has seen as
    `shapes`. States that left stay listed until they may be many (`stale`: at most that many,
    from the states the class lost since) and are skipped by readers; `listed` is every state
    in `entries`; `fitting`, per capacity kind, the entries of the states that can take such
    pods, with the judge's memo of fits they were read from and the room version they are of
    (`suanli.state.roomy`)."""

    version: int
    entries: list[tuple[float, int]]  # (-fragmentation, state)
    listed: set[int]
    shapes: int
    left: int  # states the class had lost when it was listed
    stale: int = 0
    fitting: dict[int, tuple[dict[int, bool], list[tuple[float, int]], int]] = field(
        default_factory=dict
    )


@dataclass(slots=True)
class Allowed:
    """The classes with nodes that a pod kind's hard requirements allow, as of a classes
    version of the state, and the last ranking of them with the capacity for typed pods it
    was made with (pods without devices take none: their ranking stays)."""

    version: int
    classes: list[tuple[int, str | None, float]]  # (class, accelerator type, facts-only part)
    types: dict[str | None, NodeFacts]  # accelerator type -> the facts of one of its classes
    taken: tuple[float, ...] = ()  # capacity kept for typed pods taken, per type as in `types`
    ranked: Ranked | None = None
