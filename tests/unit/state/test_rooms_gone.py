"""A gang member refused by kube-scheduler is planned again only when the operator's state agrees
that its planned node has no room for it: with the other members and other gangs' promised pods
on their planned nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring.snapshot import PlacedPod
from suanli.state.gang import rooms_gone
from tests.unit.state.timefleet import FILES, NODES, demands, feed_of

NODE = NODES[0]  # 8 devices


@dataclass(frozen=True)
class Room:
    name: str
    bound_gpus: int  # another job's pod bound on NODE
    promised_gpus: int  # another gang's pod planned on NODE, not bound yet
    gone: int  # how many of the gang's two 4-GPU members are named
    apart: bool = False  # the members are planned on two nodes (NODE and the next)


ROOMS = [
    Room("an empty node keeps room for both", bound_gpus=0, promised_gpus=0, gone=0),
    Room("a pod bound meanwhile takes the room of both", bound_gpus=4, promised_gpus=0, gone=2),
    Room("another gang's promise counts as taken", bound_gpus=0, promised_gpus=4, gone=2),
    Room(
        "a member alone on the node still fits beside 4",
        bound_gpus=4,
        promised_gpus=0,
        gone=0,
        apart=True,
    ),
    Room("but not beside 6", bound_gpus=6, promised_gpus=0, gone=1, apart=True),
]


@pytest.mark.parametrize("room", ROOMS, ids=[r.name for r in ROOMS])
def test_rooms_gone(room: Room) -> None:
    feed = feed_of({"other": (NODE, room.bound_gpus)} if room.bound_gpus else {})
    members = demands("gang", 2, 4)
    promised = [
        PlacedPod(f"team/promise-{i}", NODE, "team/promised", demand.requests, demand.gpu_milli)
        for i, demand in enumerate(demands("promised", 1, room.promised_gpus or 1))
    ]
    before = feed.state.generation, dict(feed.state.pods)
    gone = rooms_gone(
        feed,
        [(member, NODES[i] if room.apart else NODE) for i, member in enumerate(members)],
        catalog=FILES.catalog,
        latency=FILES.latency,
        reserved=promised if room.promised_gpus else (),
    )
    assert len(gone) == room.gone
    assert set(gone) <= {m.name for m in members}
    # A what-if: nothing of the trial stays in the state.
    assert dict(feed.state.pods) == before[1]
