"""An immutable view of the cluster for one decision: node facts plus what is already placed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from suanli.scoring.catalog import Catalog
from suanli.scoring.demand import PodDemand, job_of
from suanli.scoring.errors import QuantityError, ScoringInputError
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


@dataclass(frozen=True, slots=True)
class PlacedPod:
    key: str  # namespace/name
    node: str
    job: str | None
    requests: Resources


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
    return PlacedPod(key, str(node), job_of(pod), requests)


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
        counts: dict[str, int] = defaultdict(int)
        for pod in placed.values():
            requested[pod.node] = requested[pod.node] + pod.requests
            counts[pod.node] += 1
        snapshots = tuple(
            NodeSnapshot(facts[name], NodeUsage(requested[name], counts[name]))
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
