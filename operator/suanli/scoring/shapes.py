"""Typical request shapes: the workload the cluster should stay able to host.

Fragmentation is only defined against what is going to ask for the capacity: a quarter of a
device left idle is a fragment for whole-device pods and perfectly usable for quarter-device ones.
A `Workload` is a small weighted set of GPU request shapes; the scorer receives it as an input
(it stays pure). `ShapeHistogram` is the bounded counter the callers keep of the pods they have
placed, and from which they take a `Workload`.

CPU and memory of a shape are rounded up to a half-octave grid (1, 1.5, 2, 3, 4, 6, 8, ... cores
or GiB) so that a handful of shapes describe a real workload rather than one per odd request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from itertools import repeat
from operator import add, mul, truediv

from suanli.scoring.demand import PodDemand
from suanli.scoring.devices import MILLI_PER_DEVICE
from suanli.scoring.resources import ACCELERATOR_RESOURCES, CPU, MEMORY
from suanli.scoring.shape_index import ShapeIndex

_CORE = 1000
_GIB = 2**30


@dataclass(frozen=True, slots=True, order=True)
class Shape:
    """One kind of GPU request. `resource` is empty for shares, which any vendor's device
    serves; `types` are the accepted canonical types, sorted, empty for any."""

    whole: int  # whole devices, or
    milli: int  # a share of one device
    cpu: int  # milli-cores, rounded up to the grid
    memory: int  # bytes, rounded up to the grid
    resource: str = ""
    types: tuple[str, ...] = ()

    @property
    def total_milli(self) -> int:
        return self.whole * MILLI_PER_DEVICE + self.milli


def grid_ceiling(value: int, unit: int) -> int:
    """The smallest of unit x (1, 1.5, 2, 3, 4, 6, 8, ...) that is at least `value`; 0 stays 0."""
    if value <= 0:
        return 0
    step = unit
    while True:
        if value <= step:
            return step
        if value <= step * 3 // 2:
            return step * 3 // 2
        step *= 2


def shape_of(demand: PodDemand, accepted: tuple[str, ...]) -> Shape | None:
    """The shape of a pod's request (None for CPU-only pods, which fragment no device).
    `accepted` is the demand's accepted types resolved to canonical names."""
    request = demand.gpu
    if not request.wants:
        return None
    resources = sorted(r for r in demand.requests if r in ACCELERATOR_RESOURCES)
    return Shape(
        whole=request.whole,
        milli=request.milli,
        cpu=grid_ceiling(demand.requests.amount(CPU), _CORE),
        memory=grid_ceiling(demand.requests.amount(MEMORY), _GIB),
        resource=resources[0] if len(resources) == 1 else "",
        types=tuple(sorted(accepted)),
    )


@dataclass(frozen=True)
class Workload:
    """Shapes with their weights (summing to 1), in a fixed order; empty means "unknown":
    the packing signal then falls back to plain most-allocated.

    `pressure` says, per accelerator type, which share of its idle capacity the pods that accept
    only a few types are expected to need (0..1, see `with_pressure`); taking that capacity for
    a pod that could go elsewhere leaves them nowhere to go.
    """

    shapes: tuple[Shape, ...] = ()
    weights: tuple[float, ...] = ()
    pressure: tuple[tuple[str, float], ...] = ()
    # Worked out from the shapes and weights alone, and shared with every workload that
    # `with_pressure` derives from this one: the pressure changes with every placement, the
    # shapes only when a histogram is re-estimated.
    index: ShapeIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.shapes) != len(self.weights) or len(set(self.shapes)) != len(self.shapes):
            raise ValueError("a workload has one weight per distinct shape")
        if any(w < 0 for w in self.weights):
            raise ValueError("workload weights must not be negative")
        if any(not 0 <= p <= 1 for _, p in self.pressure):
            raise ValueError("pressure is a share, 0..1")
        object.__setattr__(self, "index", ShapeIndex(self.shapes, self.weights))

    @classmethod
    def of(cls, counts: Iterable[tuple[Shape, float]]) -> Workload:
        """Normalised weights, shapes sorted, a shape listed twice counted once with both
        counts, zero counts dropped."""
        merged: dict[Shape, float] = {}
        for shape, count in counts:
            merged[shape] = merged.get(shape, 0.0) + count
        positive = sorted((s, c) for s, c in merged.items() if c > 0)
        total = sum(c for _, c in positive)
        return cls(tuple(s for s, _ in positive), tuple(c / total for _, c in positive))

    def __bool__(self) -> bool:
        return bool(self.shapes)

    def pressure_on(self, type_name: str | None) -> float:
        if type_name is None:
            return 0.0
        return next((p for t, p in self.pressure if t == type_name), 0.0)


def with_pressure(workload: Workload, idle: Mapping[str, int]) -> Workload:
    """The workload with the pressure on each type, given the idle milli-devices per type.

    Each shape brings its expected volume (weight x milli-devices). A shape that accepts only
    some types is expected to land on them in proportion to their idle capacity; its volume is
    reserved there. Shapes that accept the same set of types are added up first: a type's
    reserved volume is the volume of the shapes accepting it alone, plus each set's volume
    times the type's share of the set's idle capacity. If the workload keeps arriving until the
    capacity it can use is full, a type must keep `reserved share x idle capacity` for those
    pods: the pressure is that over the type's own idle capacity, capped at 1. Only the types
    the workload can use count (all of them as soon as one shape accepts any type).
    """
    if not workload:
        return workload
    index = workload.index
    key = tuple(idle.items())
    last = index.last
    if last is not None and last[0] is workload and last[1] == key:
        return last[2]
    derived = _derive(workload, idle)
    index.last = (workload, key, derived)
    return derived


def _derive(workload: Workload, idle: Mapping[str, int]) -> Workload:
    """`with_pressure` worked out. A type without idle capacity is under full pressure
    whatever it reserves, so its reserved volume is not worked out: the others have idle
    capacity, and so has every set of types they are in."""
    index = workload.index
    usable = idle if index.any_type else index.types
    total_idle = sum(map(idle.get, usable, repeat(0)))
    volume = index.volume
    if total_idle <= 0 or volume <= 0:
        return workload
    # The idle capacity of each set of several types, by its number.
    rooms = [sum(map(idle.get, types, repeat(0))) for types in index.type_sets]
    pressure: list[tuple[str, float]] = []
    for name, numbers, volumes in index.by_type:
        free = idle.get(name)
        if not free:
            pressure.append((name, 1.0))
            continue
        # The shares: 1 for the type alone, then its share of each of its sets' idle capacity.
        shares = [1.0, *map(truediv, repeat(free), map(rooms.__getitem__, numbers))]
        # The volume of the shapes accepting it alone, then each set's times its share, added
        # in turn to 0.0 as a loop of `amount += volume * share` would (a fold, not `sum`,
        # whose rounding may differ between Python versions).
        amount = reduce(add, map(mul, volumes, shares), 0.0)
        pressure.append((name, min(1.0, amount / volume * total_idle / free)))
    # The shapes and weights are the checked ones of `workload`: no need to check them again.
    # Nor the pressure: volumes and shares are not negative, and `min` keeps it at most 1.
    derived = object.__new__(Workload)
    for name, value in (
        ("shapes", workload.shapes),
        ("weights", workload.weights),
        ("pressure", tuple(pressure)),
        ("index", index),
    ):
        object.__setattr__(derived, name, value)
    return derived


NO_WORKLOAD = Workload()


_Class = tuple[int, int, str, tuple[str, ...]]  # a shape without its cpu and memory


def _class_of(shape: Shape) -> _Class:
    return (shape.whole, shape.milli, shape.resource, shape.types)


class ShapeHistogram:
    """Counts of the shapes of the pods placed so far, bounded in size.

    Pods are counted per device request and accepted types; the cpu and memory of a shape are
    the means of its pods (on the grid), so an odd cpu request does not split a common shape.
    At most `capacity` distinct shapes are counted (one first seen when it is full is not); the
    workload is made of the `top` most frequent, by default all of them: a typed shape (a size
    and one or two models) is rare on its own, and a workload of the most frequent shapes only
    would leave out most typed pods and the pressure they put on their types. It is re-estimated
    only when the number of pods counted has moved by a `refresh` fraction since the last
    estimate: the estimate then tracks the mix without reordering nodes on every single
    placement, and caches keyed by the workload stay valid between re-estimates.
    """

    def __init__(self, capacity: int = 128, top: int = 128, refresh: float = 0.125) -> None:
        if capacity < 1 or top < 1 or refresh < 0:
            raise ValueError("capacity and top must be positive, refresh not negative")
        self.capacity = capacity
        self.top = top
        self.refresh = refresh
        # class -> [pods, cpu sum, memory sum]
        self._counts: dict[_Class, list[int]] = {}
        self._total = 0
        self._estimated_at: int | None = None
        self._workload = NO_WORKLOAD

    @property
    def total(self) -> int:
        return self._total

    def counts(self) -> dict[Shape, int]:
        return {self._shape(key, sums): sums[0] for key, sums in self._counts.items()}

    @staticmethod
    def _shape(key: _Class, sums: list[int]) -> Shape:
        whole, milli, resource, types = key
        count = max(1, sums[0])
        return Shape(
            whole,
            milli,
            grid_ceiling(sums[1] // count, _CORE),
            grid_ceiling(sums[2] // count, _GIB),
            resource,
            types,
        )

    def add(self, shape: Shape | None) -> None:
        if shape is None:
            return
        key = _class_of(shape)
        sums = self._counts.get(key)
        if sums is None:
            if len(self._counts) >= self.capacity:
                return
            sums = self._counts[key] = [0, 0, 0]
        sums[0] += 1
        sums[1] += shape.cpu
        sums[2] += shape.memory
        self._total += 1

    def remove(self, shape: Shape | None) -> None:
        if shape is None:
            return
        key = _class_of(shape)
        sums = self._counts.get(key)
        if sums is None:
            return
        sums[0] -= 1
        sums[1] -= shape.cpu
        sums[2] -= shape.memory
        self._total -= 1
        if not sums[0]:
            del self._counts[key]

    def estimate(self) -> tuple[int | None, Workload]:
        """When the workload was last estimated, and what it was (to undo a trial's effect)."""
        return self._estimated_at, self._workload

    def restore(self, estimate: tuple[int | None, Workload]) -> None:
        self._estimated_at, self._workload = estimate

    def workload(self) -> Workload:
        last = self._estimated_at
        if last is None or abs(self._total - last) >= max(1.0, last * self.refresh):
            self._estimated_at = self._total
            ranked = sorted(self._counts.items(), key=lambda item: (-item[1][0], item[0]))
            self._workload = Workload.of(
                (self._shape(key, sums), sums[0]) for key, sums in ranked[: self.top]
            )
        return self._workload
