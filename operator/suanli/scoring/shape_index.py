"""What a workload's shapes and weights alone determine, worked out once per workload.

The loops that run per node state (fragmentation) and per placement (the pressure of typed pods)
read these instead of every shape: the same numbers as their definitions work out, in the same
order, so the floats they sum are the very same.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suanli.scoring.shapes import Shape, Workload


class ShapeIndex:
    """What a workload's shapes and weights alone determine, for the loops that run per node
    state or per placement: the same numbers as computed inline, in the same order."""

    __slots__ = (
        "_limits",
        "_pairs",
        "_relevant",
        "_slots",
        "any_type",
        "by_type",
        "last",
        "type_sets",
        "types",
        "volume",
    )

    def __init__(self, shapes: tuple[Shape, ...], weights: tuple[float, ...]) -> None:
        pairs = tuple(zip(shapes, weights, strict=False))
        self.any_type = any(not s.types for s in shapes)
        self.types = frozenset(t for s in shapes for t in s.types)
        self.volume = sum(w * s.total_milli for s, w in pairs)
        # Per type, sorted: the volume (weight x milli-devices) of the typed shapes that accept
        # it alone, then of each set of several types accepting it, in the order the shapes
        # first name the sets: the reserved volume is these times the type's shares (1 for the
        # type alone), a handful of products per type where there are dozens of shapes. Each
        # volume adds its shapes' terms in the order of the shapes, starting from 0.0.
        sets: dict[tuple[str, ...], int] = {}  # several accepted types -> their number
        volumes: dict[str, dict[int, float]] = {}  # type -> its sets' numbers -> their volume
        for shape, weight in pairs:
            weighted = weight * shape.total_milli
            number = sets.setdefault(shape.types, len(sets)) if len(shape.types) > 1 else -1
            for name in shape.types:
                by_set = volumes.setdefault(name, {-1: 0.0})
                by_set[number] = by_set.get(number, 0.0) + weighted
        self.type_sets = tuple(sets)
        # (type, its sets' numbers, the volume alone then each set's): dicts keep the order
        # of first insertion, and -1 (the type alone) went in first.
        self.by_type = tuple(
            (name, tuple(volumes[name])[1:], tuple(volumes[name].values()))
            for name in sorted(volumes)
        )
        # The last workload derived with pressure, with what it was derived from: pods without
        # devices leave the idle capacity as it was, and the same workload comes out.
        self.last: tuple[Workload, tuple[tuple[str, int], ...], Workload] | None = None
        self._relevant: dict[tuple[str, str | None], tuple[Term, ...]] = {}
        self._slots: dict[tuple[str, str | None], Slots] = {}
        self._limits: dict[tuple[str, str | None], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._pairs = pairs

    def relevant(self, resource: str, type_name: str | None) -> tuple[Term, ...]:
        """(weight, cpu, memory, whole, milli) of the shapes that accept devices of `resource`
        and `type_name`, in order."""
        key = (resource, type_name)
        found = self._relevant.get(key)
        if found is None:
            found = self._relevant[key] = tuple(
                (w, s.cpu, s.memory, s.whole, s.milli)
                for s, w in self._pairs
                if (not s.resource or s.resource == resource)
                and (not s.types or type_name in s.types)
            )
        return found

    def slots(self, resource: str, type_name: str | None) -> Slots:
        """The relevant shapes (`relevant`, in order) by what hostability reads of the devices:
        the distinct shares asked for, sorted, and per shape (weight, cpu, memory, slot, need),
        slot 0 for whole devices (need: that many idle devices), slot i for the i-th share
        (need: one device with that much free)."""
        key = (resource, type_name)
        found = self._slots.get(key)
        if found is None:
            relevant = self.relevant(resource, type_name)
            shares = tuple(sorted({milli for _, _, _, whole, milli in relevant if not whole}))
            found = self._slots[key] = (
                shares,
                tuple(
                    (weight, cpu, memory, 0, whole)
                    if whole
                    else (weight, cpu, memory, 1 + shares.index(milli), 1)
                    for weight, cpu, memory, whole, milli in relevant
                ),
            )
        return found

    def limits(self, resource: str, type_name: str | None) -> Limits:
        """The distinct cpu and the distinct memory of the relevant shapes, sorted: all that
        hostability compares a node's free cpu and memory with."""
        key = (resource, type_name)
        limits = self._limits.get(key)
        if limits is None:
            relevant = self.relevant(resource, type_name)
            limits = self._limits[key] = (
                tuple(sorted({term[1] for term in relevant})),
                tuple(sorted({term[2] for term in relevant})),
            )
        return limits

    def hosts_alike(
        self, resource: str, type_name: str | None, free: tuple[int, int, int], taken: Taken
    ) -> bool:
        """Is every shape relevant to the node exactly as hostable, as far as cpu, memory and
        pod slots go, with `taken` (cpu, memory) and one pod slot less of `free` (cpu, memory,
        pods) as with `free`? The node's fragmentation then stays the very same float."""
        cpu, memory, pods = free
        if pods == 1:
            return False  # its last pod slot
        cpus, memories = self.limits(resource, type_name)
        # No shape's cpu (memory) lies between what is free before and after.
        return bisect_right(cpus, cpu) == bisect_right(cpus, cpu - taken[0]) and bisect_right(
            memories, memory
        ) == bisect_right(memories, memory - taken[1])


Taken = tuple[int, int]
Limits = tuple[tuple[int, ...], tuple[int, ...]]  # distinct cpu, distinct memory
Term = tuple[float, int, int, int, int]
# The shares asked for, and per shape (weight, cpu, memory, slot, need): see `ShapeIndex.slots`.
Slots = tuple[tuple[int, ...], tuple[tuple[float, int, int, int, int], ...]]
