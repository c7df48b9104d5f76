"""What fragmentation reads of a workload per resource and type: the relevant shapes, in order,
by the slot of what their hostability reads of the devices (idle devices for whole-device
shapes, one device with enough free for each share)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring import Shape, Workload

GIB = 2**30
GPU = "nvidia.com/gpu"


@dataclass(frozen=True)
class SlotsCase:
    name: str
    shapes: tuple[Shape, ...]  # the workload's shapes, counted once each
    resource: str
    type_name: str | None
    shares: tuple[int, ...]  # the distinct shares asked for, sorted
    # per relevant shape, in the workload's order (shapes sorted): (cpu, slot, need)
    terms: tuple[tuple[int, int, int], ...]


CASES = [
    SlotsCase(
        "whole devices read slot 0, needing that many idle devices",
        shapes=(Shape(1, 0, 1000, GIB, GPU), Shape(4, 0, 2000, GIB, GPU)),
        resource=GPU,
        type_name="H100",
        shares=(),
        terms=((1000, 0, 1), (2000, 0, 4)),
    ),
    SlotsCase(
        "shares read the slot of their size, needing one device",
        shapes=(Shape(0, 500, 1000, GIB), Shape(0, 250, 2000, GIB), Shape(0, 500, 4000, GIB)),
        resource=GPU,
        type_name=None,
        shares=(250, 500),
        terms=((2000, 1, 1), (1000, 2, 1), (4000, 2, 1)),
    ),
    SlotsCase(
        "shapes of another resource or type are left out",
        shapes=(
            Shape(1, 0, 1000, GIB, "amd.com/gpu"),
            Shape(0, 300, 1000, GIB, types=("T4",)),
            Shape(2, 0, 3000, GIB, GPU, ("H100",)),
        ),
        resource=GPU,
        type_name="H100",
        shares=(),
        terms=((3000, 0, 2),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_slots(case: SlotsCase) -> None:
    workload = Workload.of((shape, 1) for shape in case.shapes)
    shares, terms = workload.index.slots(case.resource, case.type_name)
    assert shares == case.shares
    assert tuple((cpu, slot, need) for _, cpu, _, slot, need in terms) == case.terms
    # The same shapes as `relevant`, with their weights.
    relevant = workload.index.relevant(case.resource, case.type_name)
    assert [term[:3] for term in terms] == [term[:3] for term in relevant]
