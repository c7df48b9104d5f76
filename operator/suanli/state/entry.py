"""One node of the cluster state: its facts, its class, the pods it holds and what they use of
it; and the room its devices leave (whole idle devices, the largest free share)."""

from __future__ import annotations

from dataclasses import replace

from suanli.scoring import MILLI_PER_DEVICE, NodeFacts, NodeSnapshot, NodeUsage, Resources
from suanli.scoring.combine import tie_rank
from suanli.scoring.snapshot import PlacedPod
from suanli.state.tally import DeviceTally

_EMPTY = Resources()
UsageKey = tuple[int, Resources, int, tuple[int, ...]]
Room = tuple[int, int]  # idle devices, the largest free milli of one device


def room_of(used: tuple[int, ...]) -> Room:
    """What a node's devices can still take: whole idle devices, and the largest share."""
    # Counted and read in C: asked for every new usage state.
    return used.count(0), MILLI_PER_DEVICE - min(used) if used else 0


def fits_room(room: Room, whole: int, milli: int) -> bool:
    """Could devices in this room take the request (as `candidates` would find)?"""
    return room[0] >= whole and room[1] >= milli


class NodeEntry:
    """One node: facts, class, and the pods it holds."""

    __slots__ = (
        "class_id",
        "facts",
        "held",
        "idle",
        "name",
        "pod_count",
        "rank",
        "requested",
        "snap",
        "state",
        "tally",
    )

    def __init__(self, facts: NodeFacts, class_id: int) -> None:
        self.name = facts.name
        self.rank = (tie_rank(facts.name), facts.name)  # its place among nodes of equal total
        self.facts = facts
        self.class_id = class_id
        self.held: dict[str, PlacedPod] = {}
        self.requested = _EMPTY
        self.pod_count = 0
        self.state = -1  # usage state id, set by the owning ClusterState
        self.snap: NodeSnapshot | None = None  # built on demand, dropped on change
        self.tally = DeviceTally(facts)  # what its pods hold of its devices
        self.idle = 0  # idle milli-devices it counts in its state's idle capacity per type

    def adopt(self, pods: dict[str, PlacedPod]) -> None:
        """Hold these pods (a node's that was known, or that were seen before it)."""
        self.held = pods
        self.tally = DeviceTally(self.facts, pods.values())

    def snapshot(self) -> NodeSnapshot:
        if self.snap is None:
            usage = NodeUsage(self.requested, self.pod_count, self.tally.devices)
            self.snap = NodeSnapshot(self.facts, usage)
        return self.snap

    def usage_key(self) -> UsageKey:
        return (self.class_id, self.requested, self.pod_count, self.snapshot().devices_used())


def class_of(facts: NodeFacts) -> NodeFacts:
    return replace(facts, name="")
