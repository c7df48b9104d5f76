"""Resource amounts and the pod request arithmetic kube-scheduler uses.

Amounts are integers: CPU in milli-cores, everything else in whole units (bytes for memory and
storage, a count for pods and devices), which is how NodeResourcesFit compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from suanli.scoring.errors import QuantityError
from suanli.scoring.quantity import to_milli, to_units

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
RDMA_RESOURCE = "rdma/hca_shared_devices_a"

# The extended resources device plugins advertise for accelerators, by vendor. The first name of
# each vendor is the one its nodes normally carry.
VENDOR_RESOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "nvidia": ("nvidia.com/gpu",),
        "amd": ("amd.com/gpu",),
        "huawei": ("huawei.com/Ascend910", "huawei.com/Ascend310P", "huawei.com/Ascend310"),
        "cambricon": ("cambricon.com/mlu",),
        "hygon": ("hygon.com/dcu",),
    }
)
ACCELERATOR_RESOURCES: frozenset[str] = frozenset(
    name for names in VENDOR_RESOURCES.values() for name in names
)


class Resources(Mapping[str, int]):
    """An immutable resource list; absent names read as 0 through `amount`."""

    __slots__ = ("_hash", "_items")

    def __init__(self, amounts: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        # A plain dict first: `Mapping` is an ABC, whose isinstance check is slow.
        pairs = (
            amounts.items() if type(amounts) is dict or isinstance(amounts, Mapping) else amounts
        )
        # Zero entries carry no information; dropping them makes equal lists compare equal.
        self._items: dict[str, int] = dict(sorted((k, v) for k, v in pairs if v != 0))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> int:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        # Mapping's own __eq__ copies both sides into dicts: decisions compare these often.
        if type(other) is Resources or isinstance(other, Resources):
            return self._items == other._items
        return super().__eq__(other)

    def __hash__(self) -> int:
        # Worked out once: a node's usage key and every memo key of a pod kind hold one.
        found = self._hash
        if found is None:
            found = self._hash = hash(tuple(self._items.items()))
        return found

    def __reduce__(self) -> tuple[type[Resources], tuple[dict[str, int]]]:
        # Rebuilt from the amounts: the hash kept is of this process (str hashes are seeded).
        return (Resources, (self._items,))

    def __repr__(self) -> str:
        return f"Resources({self._items!r})"

    def amount(self, name: str) -> int:
        return self._items.get(name, 0)

    def __add__(self, other: Mapping[str, int]) -> Resources:
        if type(other) is Resources or isinstance(other, Resources):
            return self._combined(other, 1)
        names = set(self) | set(other)
        return Resources({n: self.amount(n) + other.get(n, 0) for n in names})

    def __sub__(self, other: Mapping[str, int]) -> Resources:
        if type(other) is Resources or isinstance(other, Resources):
            return self._combined(other, -1)
        names = set(self) | set(other)
        return Resources({n: self.amount(n) - other.get(n, 0) for n in names})

    def _combined(self, other: Resources, sign: int) -> Resources:
        """`self + sign x other`. A node's requests gain or lose a pod's on every change: when
        the pod names no resource the node's do not and no amount comes to zero, the names
        and their order stay, and the list is made without sorting it again."""
        items = dict(self._items)
        for name, amount in other._items.items():
            items[name] = items.get(name, 0) + sign * amount
        if len(items) != len(self._items) or 0 in items.values():
            return Resources(items)
        combined = object.__new__(Resources)
        combined._items = items
        combined._hash = None
        return combined

    def maximum(self, other: Mapping[str, int]) -> Resources:
        names = set(self) | set(other)
        return Resources({n: max(self.amount(n), other.get(n, 0)) for n in names})


EMPTY = Resources()


def parse_resource_list(raw: object, where: str) -> Resources:
    """A `{name: quantity}` mapping as found in requests, limits or allocatable."""
    if raw is None:
        return EMPTY
    if not isinstance(raw, Mapping):
        raise QuantityError(f"{where}: expected a mapping of resource name to quantity")
    amounts: dict[str, int] = {}
    for name, value in raw.items():
        if not isinstance(value, str | int | float):
            raise QuantityError(f"{where}.{name}: {value!r} is not a Kubernetes quantity")
        try:
            amounts[str(name)] = to_milli(value) if name == CPU else to_units(value)
        except QuantityError as error:
            raise QuantityError(f"{where}.{name}: {error}") from None
    return Resources(amounts)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _container_requests(container: Mapping[str, Any], where: str) -> Resources:
    resources = _mapping(container.get("resources"))
    limits = parse_resource_list(resources.get("limits"), f"{where}.resources.limits")
    requests = parse_resource_list(resources.get("requests"), f"{where}.resources.requests")
    # A missing request defaults to the limit, as the API server's defaulting does; for extended
    # resources the limit is usually all a pod spec carries.
    return Resources({**limits, **requests})


def _containers(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = spec.get(key)
    if not isinstance(value, list):
        return []
    return [c for c in value if isinstance(c, Mapping)]


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """What a pod occupies on a node: containers summed, init containers maxed, plus overhead.

    Restartable init containers (sidecars) keep running, so they add to the containers and to
    every later init container, exactly as the scheduler's resource helper computes it.
    """
    spec = _mapping(pod.get("spec"))
    total = EMPTY
    for index, container in enumerate(_containers(spec, "containers")):
        total = total + _container_requests(container, f"spec.containers[{index}]")
    sidecars = EMPTY
    init_peak = EMPTY
    for index, container in enumerate(_containers(spec, "initContainers")):
        requests = _container_requests(container, f"spec.initContainers[{index}]")
        if container.get("restartPolicy") == "Always":
            sidecars = sidecars + requests
            init_peak = init_peak.maximum(sidecars)
        else:
            init_peak = init_peak.maximum(sidecars + requests)
    total = (total + sidecars).maximum(init_peak)
    return total + parse_resource_list(spec.get("overhead"), "spec.overhead")
