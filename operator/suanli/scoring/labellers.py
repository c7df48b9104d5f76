"""Node labels that name a node's accelerators, as each vendor's labeller writes them.

NVIDIA GPU Feature Discovery, the AMD labeller, the Ascend device plugin, Cambricon's device
plugin labeller and Hygon's DCU-Label-Node each use their own keys and units; `labelled_devices`
reads whichever is present into one shape. Nodes without any get our own `suanli.dev/accelerator.*`
keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from suanli.keys import (
    ACCELERATOR_COUNT_LABEL,
    ACCELERATOR_MEMORY_LABEL,
    ACCELERATOR_PRODUCT_LABEL,
    ACCELERATOR_VENDOR_LABEL,
)
from suanli.scoring.catalog import Vendor
from suanli.scoring.resources import VENDOR_RESOURCES, Resources

_MIB_PER_GIB = 1024
_VENDORS = frozenset(v.value for v in Vendor)


def _count(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text)


def _mib_to_gib(text: str | None) -> float | None:
    count = _count(text)
    return None if not count else count / _MIB_PER_GIB


_VRAM = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?)?B?$", re.IGNORECASE)
_VRAM_GIB: Mapping[str, float] = MappingProxyType(
    {"k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0, "": 1 / 1024}
)


def _vram_to_gib(text: str | None) -> float | None:
    """The AMD and Hygon labellers write `64G` (binary gigabytes); a bare number is MiB."""
    match = _VRAM.match(text.strip()) if text else None
    if match is None:
        return None
    unit = (match["unit"] or "")[:1].lower()
    value = float(match["n"]) * _VRAM_GIB[unit]
    return value or None


@dataclass(frozen=True, slots=True)
class Labelled:
    """What a product labeller says about a node's devices."""

    vendor: Vendor
    product: str
    count: int | None
    memory_gib: float | None


# Product labels the vendors' own labellers write: the Ascend device plugin's chip name (910B3,
# 310P3), Hygon's DCU-Label-Node (hygon.com/dcu.name=K100_AI, hygon.com/dcu.vram=64G), and the
# Cambricon device plugin's labeller, whose bare `Model` key (MLU370-X8) is read only on nodes
# that advertise Cambricon devices: alone, a key that generic could mean anything.
ASCEND_CHIP_LABEL = "node.kubernetes.io/npu.chip.name"
HYGON_NAME_LABEL = "hygon.com/dcu.name"
HYGON_VRAM_LABEL = "hygon.com/dcu.vram"
CAMBRICON_MODEL_LABEL = "Model"


def _advertises(vendor: Vendor, allocatable: Resources) -> bool:
    return any(allocatable.amount(r) > 0 for r in VENDOR_RESOURCES[vendor.value])


def _vendor_labelled(labels: Mapping[str, str], allocatable: Resources) -> Labelled | None:
    if ASCEND_CHIP_LABEL in labels:
        return Labelled(Vendor.HUAWEI, labels[ASCEND_CHIP_LABEL], None, None)
    if HYGON_NAME_LABEL in labels:
        memory = _vram_to_gib(labels.get(HYGON_VRAM_LABEL))
        return Labelled(Vendor.HYGON, labels[HYGON_NAME_LABEL], None, memory)
    if CAMBRICON_MODEL_LABEL in labels and _advertises(Vendor.CAMBRICON, allocatable):
        return Labelled(Vendor.CAMBRICON, labels[CAMBRICON_MODEL_LABEL], None, None)
    return None


def labelled_devices(labels: Mapping[str, str], allocatable: Resources) -> Labelled | None:
    """What the first labeller found on the node says about its devices; None: no labeller."""
    if "nvidia.com/gpu.product" in labels:
        return Labelled(
            Vendor.NVIDIA,
            labels["nvidia.com/gpu.product"],
            _count(labels.get("nvidia.com/gpu.count")),
            _mib_to_gib(labels.get("nvidia.com/gpu.memory")),
        )
    if "amd.com/gpu.product-name" in labels:
        return Labelled(
            Vendor.AMD,
            labels["amd.com/gpu.product-name"],
            _count(labels.get("amd.com/gpu.count")),
            _vram_to_gib(labels.get("amd.com/gpu.vram")),
        )
    found = _vendor_labelled(labels, allocatable)
    if found is not None:
        return found
    vendor = labels.get(ACCELERATOR_VENDOR_LABEL, "").lower()
    if vendor not in _VENDORS:
        return None
    return Labelled(
        Vendor(vendor),
        labels.get(ACCELERATOR_PRODUCT_LABEL, ""),
        _count(labels.get(ACCELERATOR_COUNT_LABEL)),
        _mib_to_gib(labels.get(ACCELERATOR_MEMORY_LABEL)),
    )
