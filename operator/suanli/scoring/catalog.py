"""The accelerator catalog: canonical types, and the label values that name them.

Nodes name their devices with whatever the labeller writes (`NVIDIA-H100-80GB-HBM3`,
`Tesla-T4-SHARED`, `AMD-Instinct-MI300X`); demands and scores talk about canonical types (`H100`).
`Catalog.resolve` maps the first to the second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from suanli.scoring.errors import CatalogError, load_document
from suanli.scoring.resources import VENDOR_RESOURCES


class Vendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    HUAWEI = "huawei"
    CAMBRICON = "cambricon"
    HYGON = "hygon"


@dataclass(frozen=True, slots=True)
class AcceleratorType:
    """One canonical accelerator model."""

    name: str
    vendor: Vendor
    memory_gib: float
    # Throughput relative to an H100 (1.0); rough, for ranking only.
    performance: float
    # Approximate on-demand list price, USD per hour per device.
    price_per_hour: float
    aliases: tuple[str, ...] = ()
    # The extended resource its device plugin advertises; empty: the vendor's usual one.
    resource: str = ""

    def __post_init__(self) -> None:
        if not self.resource:
            # Frozen: the default is filled in once, at construction.
            object.__setattr__(self, "resource", VENDOR_RESOURCES[self.vendor.value][0])


# --- the file format (a pydantic boundary) ---------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _TypeSpec(_Strict):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    vendor: Vendor
    memory_gib: float = Field(alias="memoryGiB", gt=0)
    performance: float = Field(gt=0, le=100)
    price_per_hour: float = Field(alias="pricePerHour", ge=0)
    aliases: tuple[str, ...] = ()
    resource: str | None = None

    @field_validator("aliases")
    @classmethod
    def _aliases_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not alias.strip() for alias in value):
            raise ValueError("aliases must not be empty strings")
        return value

    @model_validator(mode="after")
    def _resource_of_vendor(self) -> Self:
        # Filters, packing and the operator know accelerators by these names only; another
        # name would make the type's devices look like an ordinary resource.
        known = VENDOR_RESOURCES[self.vendor.value]
        if self.resource is not None and self.resource not in known:
            raise ValueError(
                f"resource {self.resource!r} is not a {self.vendor.value} device resource; "
                f"use one of {', '.join(known)}"
            )
        return self


class _CatalogSpec(_Strict):
    api_version: Literal["suanli.dev/v1alpha1"] = Field(
        default="suanli.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["AcceleratorCatalog"] = "AcceleratorCatalog"
    types: tuple[_TypeSpec, ...] = Field(min_length=1)


# --- lookup ----------------------------------------------------------------------------------

_TOKEN_SPLIT = re.compile(r"[-_\s/]+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN_SPLIT.split(text.lower()) if t)


def _contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


@dataclass(frozen=True)
class Catalog:
    """An immutable set of accelerator types with alias indexes."""

    types: tuple[AcceleratorType, ...]
    _exact: Mapping[str, AcceleratorType] = field(init=False, repr=False, compare=False)
    _folded: Mapping[str, AcceleratorType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact: dict[str, AcceleratorType] = {}
        folded: dict[str, AcceleratorType] = {}
        for index, accelerator in enumerate(self.types):
            where = f"types[{index}]({accelerator.name})"
            if accelerator.name.lower() in folded:
                raise CatalogError(
                    f"invalid accelerator catalog: {where}.name: {accelerator.name!r} "
                    f"is already a name or alias of {folded[accelerator.name.lower()].name}"
                )
            for key in (accelerator.name, *accelerator.aliases):
                owner = folded.get(key.lower())
                if owner is not None and owner is not accelerator:
                    raise CatalogError(
                        f"invalid accelerator catalog: {where}.aliases: {key!r} "
                        f"is already a name or alias of {owner.name}"
                    )
                exact[key] = accelerator
                folded[key.lower()] = accelerator
        # Frozen dataclass: set the derived indexes once, read-only from here on.
        object.__setattr__(self, "_exact", MappingProxyType(exact))
        object.__setattr__(self, "_folded", MappingProxyType(folded))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def get(self, name: str) -> AcceleratorType | None:
        """The type with exactly this canonical name."""
        found = self._exact.get(name)
        return found if found is not None and found.name == name else None

    def resolve(self, label_value: str | None) -> AcceleratorType | None:
        """The canonical type a label value names, or None when unsure.

        Exact alias first, then case-insensitive; then a conservative fallback for labels the
        catalog has not listed (`NVIDIA-H100-PCIe`, `Tesla-T4-SHARED` from time-slicing): the
        value's dash-separated tokens must contain a type's name tokens as a run. `L40S` is a
        different token from `L40`, so close models never collapse. When two types match
        equally well the answer is None: a wrong type is worse than an unknown one.
        """
        if not label_value:
            return None
        found = self._exact.get(label_value) or self._folded.get(label_value.lower())
        if found is not None:
            return found
        return self._by_tokens(_tokens(label_value))

    def _by_tokens(self, value_tokens: tuple[str, ...]) -> AcceleratorType | None:
        best: list[AcceleratorType] = []
        best_width = 0
        for accelerator in self.types:
            name_tokens = _tokens(accelerator.name)
            if not name_tokens or not _contains_run(value_tokens, name_tokens):
                continue
            if len(name_tokens) > best_width:
                best, best_width = [accelerator], len(name_tokens)
            elif len(name_tokens) == best_width:
                best.append(accelerator)
        return best[0] if len(best) == 1 else None


def parse_catalog(
    source: str | Mapping[str, object], where: str = "accelerator catalog"
) -> Catalog:
    """Validate a catalog from YAML text or already-loaded data; CatalogError names the field.

    `where` (a file path, say) starts every error message.
    """
    spec, _ = load_document(source, where, _CatalogSpec, CatalogError, "a mapping with 'types'")
    return Catalog(
        tuple(
            AcceleratorType(
                name=t.name,
                vendor=t.vendor,
                memory_gib=t.memory_gib,
                performance=t.performance,
                price_per_hour=t.price_per_hour,
                aliases=t.aliases,
                resource=t.resource or "",
            )
            for t in spec.types
        )
    )
