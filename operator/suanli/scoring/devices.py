"""Fractional accelerators: per-device usage in milli-devices, and which devices a pod gets.

A node's devices are tracked one by one in milli-units (1000 = one whole device). A pod asks
either for N whole devices (the vendor's extended resource, which kube-scheduler counts too) or
for a share of one device (the `suanli.dev/gpu-milli` annotation, which only Suanli counts). The
devices chosen are written on the pod (`suanli.dev/gpu-devices`, e.g. `"0,1"` or `"3:250"`) so a
sharing device plugin can honour them, and read back from there when usage is rebuilt.

Usage is an immutable tuple of milli used per device index; `allocate` and `release` are the only
ways to change it and they refuse to go above a whole device or below zero.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from suanli.scoring.errors import ScoringInputError

MILLI_PER_DEVICE = 1000

# (device index, milli taken on it), indices ascending and distinct.
Allocation = tuple[tuple[int, int], ...]


class AllocationError(ScoringInputError):
    """An allocation that names a missing device or would over- or under-fill one."""


@dataclass(frozen=True, slots=True)
class GpuRequest:
    """What a pod asks of a node's devices: `whole` devices, or a `milli` share of one."""

    whole: int = 0
    milli: int = 0

    def __post_init__(self) -> None:
        if self.whole < 0 or not 0 <= self.milli <= MILLI_PER_DEVICE:
            raise ValueError(f"invalid device request {self.whole} whole, {self.milli} milli")
        if self.whole and self.milli:
            raise ValueError("a device request is whole devices or one share, not both")

    @property
    def wants(self) -> bool:
        return self.whole > 0 or self.milli > 0

    @property
    def total_milli(self) -> int:
        return self.whole * MILLI_PER_DEVICE + self.milli

    @property
    def devices(self) -> float:
        """How many devices' worth, e.g. 0.25 for a quarter share."""
        return self.whole + self.milli / MILLI_PER_DEVICE


NO_DEVICES = GpuRequest()


def parse_allocation(text: str) -> Allocation:
    """`"0,1"` (whole devices 0 and 1) or `"3:250"` (250 milli of device 3)."""
    entries: dict[int, int] = {}
    for item in text.split(","):
        index_text, colon, milli_text = item.strip().partition(":")
        try:
            index = int(index_text)
            milli = int(milli_text) if colon else MILLI_PER_DEVICE
        except ValueError:
            raise AllocationError(
                f"device list {text!r}: {item.strip()!r} is not i or i:m"
            ) from None
        if index < 0 or not 0 < milli <= MILLI_PER_DEVICE or index in entries:
            raise AllocationError(f"device list {text!r}: bad or repeated entry {item.strip()!r}")
        entries[index] = milli
    return tuple(sorted(entries.items()))


def format_allocation(allocation: Allocation) -> str:
    return ",".join(
        str(index) if milli == MILLI_PER_DEVICE else f"{index}:{milli}"
        for index, milli in allocation
    )


def free_of(used: tuple[int, ...]) -> tuple[int, ...]:
    """Milli still free per device; an over-committed device has none."""
    # A list made and turned into a tuple, without a max() call per device: read per new usage
    # state in the hot paths of the decider, it costs a fraction of the generator.
    return tuple([MILLI_PER_DEVICE - u if u < MILLI_PER_DEVICE else 0 for u in used])


def _checked(used: tuple[int, ...], allocation: Allocation, sign: int) -> tuple[int, ...]:
    result = list(used)
    for index, milli in allocation:
        if not 0 <= index < len(result):
            raise AllocationError(f"device {index} does not exist (node has {len(result)})")
        result[index] += sign * milli
        if not 0 <= result[index] <= MILLI_PER_DEVICE:
            verb = "over-allocate" if sign > 0 else "release more than was allocated on"
            raise AllocationError(f"{format_allocation(allocation)} would {verb} device {index}")
    return tuple(result)


def allocate(used: tuple[int, ...], allocation: Allocation) -> tuple[int, ...]:
    """Usage after adding `allocation`; AllocationError rather than over-allocating a device."""
    return _checked(used, allocation, 1)


def release(used: tuple[int, ...], allocation: Allocation) -> tuple[int, ...]:
    """Usage after removing `allocation`; the exact inverse of `allocate`."""
    return _checked(used, allocation, -1)


def candidates(used: tuple[int, ...], request: GpuRequest) -> tuple[Allocation, ...]:
    """The allocations worth comparing, best fit first.

    Whole devices: the lowest-indexed idle ones (idle devices are interchangeable). A share: one
    device per distinct free amount that fits, the tightest first, the lowest index among equals.
    """
    if not request.wants:
        return ((),)
    return options_of(free_of(used), request.whole, request.milli)


@functools.lru_cache(maxsize=1 << 14)
def options_of(free: tuple[int, ...], whole: int, milli: int) -> tuple[Allocation, ...]:
    """`candidates` of a request for devices that wants some, from the milli free per device
    (what they depend on). Remembered: the decider plans many usage states, of many nodes and
    pod kinds, whose devices are alike."""
    if whole:
        idle = [i for i, f in enumerate(free) if f == MILLI_PER_DEVICE]
        if len(idle) < whole:
            return ()
        return (tuple((i, MILLI_PER_DEVICE) for i in idle[:whole]),)
    seen: dict[int, int] = {}
    for index, amount in enumerate(free):
        if amount >= milli and amount not in seen:
            seen[amount] = index
    return tuple(((seen[amount], milli),) for amount in sorted(seen))


def _fallback(used: list[int], request: GpuRequest) -> Allocation:
    """Where a pod without a recorded allocation is counted when nothing fits any more: the
    least used devices. The node is over-committed then, which `free_of` shows as no room."""
    order = sorted(range(len(used)), key=lambda i: (used[i], i))
    if request.whole:
        return tuple(sorted((i, MILLI_PER_DEVICE) for i in order[: request.whole]))
    return ((order[0], request.milli),) if order else ()


def rebuild(
    count: int, placements: Iterable[tuple[GpuRequest, Allocation | None]]
) -> tuple[int, ...]:
    """Per-device usage of a node from what its pods hold, in a fixed order so a restart
    rebuilds the same picture: recorded allocations as written (they are what the device
    plugin gave out), then pods without one, whole before shares, each at its best fit."""
    used = [0] * count
    pending: list[GpuRequest] = []
    for request, allocation in placements:
        if allocation is not None and all(0 <= i < count for i, _ in allocation):
            for index, milli in allocation:
                used[index] += milli
        elif request.wants:
            pending.append(request)
    pending.sort(key=lambda r: (-r.whole, -r.milli))
    for request in pending:
        options = candidates(tuple(used), request)
        for index, milli in options[0] if options else _fallback(used, request):
            used[index] += milli
    return tuple(used)
