"""What a node is, read from the labels, annotations and allocatable real clusters carry.

`node_facts` turns a Node object (a plain dict as the Kubernetes API returns it) into immutable
facts; nothing downstream looks at raw labels again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from suanli.keys import (
    BLOCK_LABEL,
    INTERCONNECT_LABEL,
    PRICE_ANNOTATION,
    RACK_LABEL,
    SITE_LABEL,
    TIER_LABEL,
)
from suanli.scoring.catalog import AcceleratorType, Catalog, Vendor
from suanli.scoring.errors import QuantityError
from suanli.scoring.labellers import labelled_devices
from suanli.scoring.resources import (
    EMPTY,
    RDMA_RESOURCE,
    VENDOR_RESOURCES,
    Resources,
    parse_resource_list,
)
from suanli.scoring.sharing import ShareStack, node_stack
from suanli.scoring.taints import Taint, node_taints
from suanli.scoring.trust import Tee, node_tees, trust_level

CPUID_PREFIX = "feature.node.kubernetes.io/cpu-cpuid."
_RDMA_LABELS = (
    "feature.node.kubernetes.io/rdma.capable",
    "feature.node.kubernetes.io/custom-rdma.capable",
)


class Tier(StrEnum):
    CLOUD = "cloud"
    EDGE = "edge"
    DEVICE = "device"


class Domain(StrEnum):
    """Topology domains a gang can be asked to share, from narrowest to widest."""

    NODE = "node"
    RACK = "rack"
    BLOCK = "block"
    ZONE = "zone"


@dataclass(frozen=True, slots=True)
class TopologyKeys:
    """Label keys for the facts clusters spell differently; the defaults are ours."""

    interconnect: str = INTERCONNECT_LABEL
    rack: str = RACK_LABEL
    block: str = BLOCK_LABEL
    site: str = SITE_LABEL
    tier: str = TIER_LABEL


DEFAULT_KEYS = TopologyKeys()
_TIERS = frozenset(t.value for t in Tier)


@dataclass(frozen=True, slots=True)
class AcceleratorFacts:
    """The devices of one node (one model per node, as device plugins advertise them)."""

    type: AcceleratorType | None  # None when the catalog does not know the product
    product: str  # the raw label value, for reasons
    vendor: Vendor
    count: int
    memory_gib: float | None  # per device; None when neither label nor catalog says
    resource: str  # the extended resource the device plugin advertises

    @property
    def type_name(self) -> str:
        return self.type.name if self.type is not None else "unknown"


@dataclass(frozen=True, slots=True)
class NodeFacts:
    name: str
    accelerator: AcceleratorFacts | None
    interconnect: str | None
    rdma: bool
    cpu_features: frozenset[str]
    rack: str | None
    block: str | None
    zone: str | None
    region: str | None
    site: str | None
    tier: Tier
    allocatable: Resources
    price_per_hour: float
    # NoSchedule and NoExecute taints, sorted: nodes tainted alike stay one class.
    taints: tuple[Taint, ...] = ()
    # What the data policy reads (suanli.scoring.trust): part of the class like every fact.
    trust_level: int = 0
    tees: frozenset[Tee] = frozenset()
    # Who enforces device shares here (suanli.scoring.sharing), read from what it advertises.
    share_stack: ShareStack = ShareStack.SUANLI

    def domain(self, kind: Domain) -> str | None:
        """The node's value for a topology domain, None if it does not carry one."""
        if kind is Domain.NODE:
            return self.name
        if kind is Domain.RACK:
            return self.rack
        if kind is Domain.BLOCK:
            return self.block
        return self.zone

    @property
    def places(self) -> tuple[str | None, ...]:
        """Location names from most to least specific, for latency lookups."""
        return (self.site, self.zone, self.region)


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """What the pods already bound to a node request."""

    requested: Resources = EMPTY
    pod_count: int = 0
    # Milli-devices used per device index (shares and whole devices). None when only whole
    # devices are in use and nobody recorded which: they are then counted from the first index.
    devices: tuple[int, ...] | None = None


# --- parsing helpers -------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str_map(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items()}


def _resource_of(vendor: Vendor, allocatable: Resources, known: AcceleratorType | None) -> str:
    """The resource the node advertises; before it advertises any, the one its type's plugin
    will (an Ascend 310P node's is huawei.com/Ascend310P, not the vendor's first)."""
    names = VENDOR_RESOURCES[vendor.value]
    fallback = known.resource if known is not None else names[0]
    return next((n for n in names if allocatable.amount(n) > 0), fallback)


def _unlabelled(allocatable: Resources) -> AcceleratorFacts | None:
    """Devices advertised by a plugin without any product labeller: type unknown."""
    for vendor in Vendor:
        for resource in VENDOR_RESOURCES[vendor.value]:
            if allocatable.amount(resource) > 0:
                count = allocatable.amount(resource)
                return AcceleratorFacts(None, "", vendor, count, None, resource)
    return None


def accelerator_facts(
    labels: Mapping[str, str], allocatable: Resources, catalog: Catalog
) -> AcceleratorFacts | None:
    labelled = labelled_devices(labels, allocatable)
    if labelled is None:
        return _unlabelled(allocatable)
    resolved = catalog.resolve(labelled.product)
    # A type of another vendor is a catalog or label mistake; trusting it would mis-place pods.
    if resolved is not None and resolved.vendor is not labelled.vendor:
        resolved = None
    resource = _resource_of(labelled.vendor, allocatable, resolved)
    # Allocatable is what pods can actually get; the count label is only a fallback. A sharing
    # stack advertises virtual devices (HAMi's vGPUs, time-slicing replicas): the physical ones
    # are then the label's.
    count = allocatable.amount(resource) or labelled.count or 0
    if node_stack(allocatable) is not ShareStack.SUANLI and labelled.count:
        count = labelled.count
    # The node's own memory label is exact (40 GB vs 80 GB A100s, MIG slices); the catalog is not.
    memory = labelled.memory_gib
    if memory is None and resolved is not None:
        memory = resolved.memory_gib
    return AcceleratorFacts(resolved, labelled.product, labelled.vendor, count, memory, resource)


def _tier(labels: Mapping[str, str], keys: TopologyKeys) -> Tier:
    value = labels.get(keys.tier, "").lower()
    if value in _TIERS:
        return Tier(value)
    if "node-role.kubernetes.io/edge" in labels:
        return Tier.EDGE
    if labels.get("openyurt.io/is-edge-worker", "").lower() == "true":
        return Tier.EDGE
    return Tier.CLOUD


def _price(annotations: Mapping[str, str], accelerator: AcceleratorFacts | None) -> float:
    text = annotations.get(PRICE_ANNOTATION)
    if text is not None:
        try:
            price = float(text)
        except ValueError:
            price = math.nan
        # A malformed annotation falls back to the catalog rather than failing the node.
        if math.isfinite(price) and price >= 0:
            return price
    if accelerator is not None and accelerator.type is not None:
        return accelerator.type.price_per_hour * accelerator.count
    return 0.0


def _true(labels: Mapping[str, str], key: str) -> bool:
    return labels.get(key, "").lower() == "true"


def node_facts(
    node: Mapping[str, Any], catalog: Catalog, keys: TopologyKeys = DEFAULT_KEYS
) -> NodeFacts:
    """Facts of one Node object; QuantityError if its allocatable is malformed."""
    metadata = _mapping(node.get("metadata"))
    status = _mapping(node.get("status"))
    labels = _str_map(metadata.get("labels"))
    annotations = _str_map(metadata.get("annotations"))
    name = str(metadata.get("name", ""))
    raw_allocatable = status.get("allocatable") or status.get("capacity")
    try:
        allocatable = parse_resource_list(raw_allocatable, "status.allocatable")
    except QuantityError as error:
        raise QuantityError(f"node {name}: {error}") from None
    accelerator = accelerator_facts(labels, allocatable, catalog)
    interconnect = labels.get(keys.interconnect, "").strip().lower() or None
    features = frozenset(
        key.removeprefix(CPUID_PREFIX).upper()
        for key, value in labels.items()
        if key.startswith(CPUID_PREFIX) and value.lower() == "true"
    )
    return NodeFacts(
        name=name,
        accelerator=accelerator,
        interconnect=interconnect,
        rdma=any(_true(labels, k) for k in _RDMA_LABELS) or allocatable.amount(RDMA_RESOURCE) > 0,
        cpu_features=features,
        rack=labels.get(keys.rack) or None,
        block=labels.get(keys.block) or None,
        zone=labels.get("topology.kubernetes.io/zone") or None,
        region=labels.get("topology.kubernetes.io/region") or None,
        site=labels.get(keys.site) or None,
        tier=_tier(labels, keys),
        allocatable=allocatable,
        price_per_hour=_price(annotations, accelerator),
        taints=node_taints(_mapping(node.get("spec"))),
        trust_level=trust_level(labels),
        tees=node_tees(labels),
        share_stack=node_stack(allocatable),
    )
