"""Expected GPU fragmentation of a node (the placement that adds least of it:
`suanli.scoring.device_plan`).

For a node and one typical request shape that accepts the node's devices, the fragment is the
node's idle device capacity that a pod of that shape could not use:

- all of it, when such a pod cannot go on the node at all (too little cpu, memory or pod slots
  left, not enough idle devices or no device with a large enough share);
- otherwise the free capacity of the devices it cannot use: partly used devices for whole-device
  shapes, devices with less free than the share for share shapes.

The node's expected fragmentation is the weighted sum over the workload's shapes, in
milli-devices. A pod is best placed where it increases that sum least (a decrease when it fills
capacity no typical pod could use), the idea of fragmentation gradient descent (Weng et al.,
"Beware of Fragmentation", ATC'23). Within a node, a share goes to the device for which the
increase is smallest, the tightest fit among equals.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import NamedTuple

from suanli.scoring.devices import (
    MILLI_PER_DEVICE,
    Allocation,
    allocate,
    free_of,
)
from suanli.scoring.resources import CPU, MEMORY, PODS
from suanli.scoring.shapes import Shape, Workload
from suanli.scoring.snapshot import NodeSnapshot


class NodeState(NamedTuple):
    """What fragmentation depends on: free milli per device and free cpu, memory, pod slots.
    A named tuple: one is made (and hashed, as a memo key) per option of every plan, and a
    tuple is made and hashed fastest."""

    free: tuple[int, ...]
    cpu: int
    memory: int
    pods: int
    resource: str
    type_name: str | None

    @property
    def idle(self) -> int:
        return sum(self.free)

    def after(self, allocation: Allocation, cpu: int, memory: int) -> NodeState:
        # What `allocate` does to the usage, worked on the free milli directly.
        free = list(self.free)
        for index, milli in allocation:
            if not 0 <= index < len(free) or not 0 <= free[index] - milli <= MILLI_PER_DEVICE:
                allocate(tuple(MILLI_PER_DEVICE - f for f in self.free), allocation)  # raises
            free[index] -= milli
        return NodeState(
            tuple(free),
            self.cpu - cpu,
            self.memory - memory,
            self.pods - 1,
            self.resource,
            self.type_name,
        )


def node_state(node: NodeSnapshot) -> NodeState:
    accelerator = node.facts.accelerator
    return NodeState(
        free=free_of(node.devices_used()),
        cpu=node.free(CPU),
        memory=node.free(MEMORY),
        pods=node.free(PODS),
        resource=accelerator.resource if accelerator else "",
        type_name=accelerator.type.name if accelerator and accelerator.type else None,
    )


def relevant(state: NodeState, shape: Shape) -> bool:
    """Does the shape accept this node's devices at all? Capacity of other types is not the
    shape's to fragment; keeping typed capacity for typed pods is the pressure's job."""
    if shape.resource and shape.resource != state.resource:
        return False
    return not shape.types or state.type_name in shape.types


def hostable(state: NodeState, shape: Shape) -> bool:
    """Could a pod of this (relevant) shape go on the node as it is?"""
    if state.cpu < shape.cpu or state.memory < shape.memory or state.pods < 1:
        return False
    if shape.whole:
        return sum(1 for f in state.free if f == MILLI_PER_DEVICE) >= shape.whole
    return max(state.free, default=0) >= shape.milli


def shape_fragmentation(state: NodeState, shape: Shape) -> int:
    """Idle milli-devices of the node that a pod of `shape` could not use."""
    if not hostable(state, shape):
        return state.idle
    threshold = MILLI_PER_DEVICE if shape.whole else shape.milli
    return sum(f for f in state.free if f < threshold)


def fragmentation(state: NodeState, workload: Workload) -> float:
    """Expected fragmentation over the workload's shapes, in milli-devices: the weighted
    `shape_fragmentation` of every relevant shape, summed in the workload's order.

    The same terms as `relevant`, `hostable` and `shape_fragmentation` give, with what they
    read of the devices worked out once per threshold rather than per shape: from the free
    milli sorted, how many devices have at least a share and how much is free on those with
    less (this runs for every new node state a decision meets; a unit test compares it with
    the plain sum)."""
    free = state.free
    if not free:
        return 0.0
    idle = sum(free)
    if not idle:
        return 0.0
    shares, terms = workload.index.slots(state.resource, state.type_name)
    if state.pods < 1:
        return sum([term[0] * idle for term in terms])  # not hostable: all of it a fragment
    ordered = sorted(free)
    below = [0, *accumulate(ordered)]  # below[k]: free milli of the k least free devices
    count = len(ordered)
    # Slot 0: whole devices (idle ones, and what the others have free); then each share.
    cuts = [bisect_left(ordered, share) for share in shares]
    fragments = [below[bisect_left(ordered, MILLI_PER_DEVICE)], *[below[k] for k in cuts]]
    rooms = [free.count(MILLI_PER_DEVICE), *[count - k for k in cuts]]
    cpu, memory = state.cpu, state.memory
    return sum(
        [
            weight
            * (
                fragments[slot]
                if cpu >= shape_cpu and memory >= shape_memory and rooms[slot] >= need
                else idle  # not hostable: all of it is a fragment
            )
            for weight, shape_cpu, shape_memory, slot, need in terms
        ]
    )


# Expected fragmentation per node state (`NodeState`), or per what fragmentation can tell of
# one (`remembered`), for one workload's shapes.
FragmentationMemo = dict[tuple[object, ...], float]


def remembered(state: NodeState, workload: Workload, memo: FragmentationMemo) -> float:
    """`fragmentation(state, workload)`, kept in `memo` per state and per what fragmentation
    can tell of it: of its cpu, memory and pod slots only which shapes they leave hostable
    (states that differ only there have the very same terms)."""
    found = memo.get(state)
    if found is None:
        cpus, memories = workload.index.limits(state.resource, state.type_name)
        alike = (
            "alike",  # never equal to a node state (whose first field is a tuple)
            state.free,
            state.resource,
            state.type_name,
            bisect_right(cpus, state.cpu),
            bisect_right(memories, state.memory),
            state.pods >= 1,
        )
        found = memo.get(alike)
        if found is None:
            found = memo[alike] = fragmentation(state, workload)
        memo[state] = found
    return found
