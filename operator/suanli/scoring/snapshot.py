"""An immutable view of the cluster for one decision: node facts plus what is already placed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from suanli.keys import GPU_DEVICES_ANNOTATION, GPU_MILLI_ANNOTATION
from suanli.scoring.catalog import Catalog
from suanli.scoring.demand import PodDemand, job_of, parse_gpu_milli
from suanli.scoring.devices import (
    MILLI_PER_DEVICE,
    Allocation,
    AllocationError,
    GpuRequest,
    parse_allocation,
    rebuild,
)
from suanli.scoring.errors import DemandError, QuantityError, ScoringInputError
from suanli.scoring.facts import DEFAULT_KEYS, NodeFacts, NodeUsage, TopologyKeys, node_facts
from suanli.scoring.resources import EMPTY, PODS, Resources, pod_requests

# Pods in these phases hold nothing on their node any more (the scheduler cache drops them too).
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    facts: NodeFacts
    usage: NodeUsage = field(default_factory=NodeUsage)

    @property
    def name(self) -> str:
        return self.facts.name

    def used(self, resource: str) -> int:
        if resource == PODS:
            return self.usage.pod_count
        return self.usage.requested.amount(resource)

    def free(self, resource: str) -> int:
        """Allocatable minus requested; negative when a node is over-committed."""
        return self.facts.allocatable.amount(resource) - self.used(resource)

    def devices_used(self) -> tuple[int, ...]:
        """Milli-devices used per device of the node's accelerator (empty without one)."""
        accelerator = self.facts.accelerator
        if accelerator is None:
            return ()
        count = accelerator.count
        recorded = self.usage.devices
        if recorded is not None:
            return (recorded + (0,) * count)[:count]
        whole = min(count, max(0, self.used(accelerator.resource)))
        return (MILLI_PER_DEVICE,) * whole + (0,) * (count - whole)


@dataclass(frozen=True, slots=True)
class PlacedPod:
    key: str  # namespace/name
    node: str
    job: str | None
    requests: Resources
    gpu_milli: int = 0  # a device share (suanli.dev/gpu-milli)
    devices: Allocation | None = None  # as recorded in suanli.dev/gpu-devices

    def gpu_on(self, resource: str) -> GpuRequest:
        """What the pod holds of a node's devices of `resource`: a share pod holds its share
        (the `nvidia.com/gpu: 1` a HAMi share pod asks for is a virtual GPU, not a device)."""
        if self.gpu_milli:
            return GpuRequest(0, self.gpu_milli)
        return GpuRequest(self.requests.amount(resource), 0)


def placed_devices(pod: Mapping[str, Any], requests: Resources) -> tuple[int, Allocation | None]:
    """The share and the recorded devices of a bound pod; unreadable annotations count as
    absent (the pod is then placed at its best fit when usage is rebuilt)."""
    annotations = _mapping(_mapping(pod.get("metadata")).get("annotations"))
    try:
        milli = parse_gpu_milli(annotations.get(GPU_MILLI_ANNOTATION), requests)
    except DemandError:
        milli = 0
    text = annotations.get(GPU_DEVICES_ANNOTATION)
    try:
        allocation = parse_allocation(text) if isinstance(text, str) and text.strip() else None
    except AllocationError:
        allocation = None
    return milli, allocation


def node_devices(facts: NodeFacts, pods: Iterable[PlacedPod]) -> tuple[int, ...] | None:
    """Per-device usage from a node's pods; None when nothing beyond whole, unrecorded devices
    is in use (the derived picture is then the same)."""
    accelerator = facts.accelerator
    held = sorted(pods, key=lambda p: p.key)
    if accelerator is None or all(p.gpu_milli == 0 and p.devices is None for p in held):
        return None
    resource = accelerator.resource
    return rebuild(accelerator.count, ((p.gpu_on(resource), p.devices) for p in held))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _placed(pod: Mapping[str, Any]) -> PlacedPod | None:
    metadata = _mapping(pod.get("metadata"))
    node = _mapping(pod.get("spec")).get("nodeName")
    phase = _mapping(pod.get("status")).get("phase")
    if not node or phase in _TERMINAL_PHASES:
        return None
    key = f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or ''}"
    try:
        requests = pod_requests(pod)
    except QuantityError as error:
        raise ScoringInputError(f"pod {key}: {error}") from None
    milli, allocation = placed_devices(pod, requests)
    return PlacedPod(key, str(node), job_of(pod), requests, milli, allocation)


@dataclass(frozen=True)
class Snapshot:
    """Nodes (sorted by name) with their usage, and the pods bound to them."""

    nodes: tuple[NodeSnapshot, ...]
    pods: tuple[PlacedPod, ...] = ()
    _by_name: Mapping[str, NodeSnapshot] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {n.name: n for n in self.nodes}
        if len(by_name) != len(self.nodes):
            raise ScoringInputError("snapshot has two nodes with the same name")
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))

    @classmethod
    def from_objects(
        cls,
        nodes: Iterable[Mapping[str, Any]],
        pods: Iterable[Mapping[str, Any]],
        catalog: Catalog,
        keys: TopologyKeys = DEFAULT_KEYS,
    ) -> Snapshot:
        """Build from Node and Pod objects as plain dicts (the API's JSON)."""
        facts = {f.name: f for f in (node_facts(n, catalog, keys) for n in nodes)}
        # Keyed by pod so a pod listed twice (a watch replay) counts once.
        placed = {p.key: p for p in (_placed(pod) for pod in pods) if p is not None}
        requested: dict[str, Resources] = defaultdict(lambda: EMPTY)
        held: dict[str, list[PlacedPod]] = defaultdict(list)
        for pod in placed.values():
            requested[pod.node] = requested[pod.node] + pod.requests
            held[pod.node].append(pod)
        snapshots = tuple(
            NodeSnapshot(
                facts[name],
                NodeUsage(requested[name], len(held[name]), node_devices(facts[name], held[name])),
            )
            for name in sorted(facts)
        )
        return cls(snapshots, tuple(placed[k] for k in sorted(placed)))

    def node(self, name: str) -> NodeSnapshot | None:
        return self._by_name.get(name)

    def select(self, names: Iterable[str]) -> tuple[NodeSnapshot, ...]:
        """The named nodes this snapshot knows, in the given order."""
        return tuple(n for n in (self._by_name.get(name) for name in names) if n is not None)

    def peers_of(self, demand: PodDemand) -> tuple[NodeFacts, ...]:
        """Nodes holding other pods of the demand's job, as facts (their domains are needed
        even when those nodes are not candidates, e.g. because they are full)."""
        if demand.job is None:
            return ()
        names = sorted({p.node for p in self.pods if p.job == demand.job and p.key != demand.key})
        return tuple(n.facts for n in self.select(names))
