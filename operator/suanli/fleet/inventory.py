"""The fleet file: pools of identical nodes, validated field by field.

A fleet file reads like this::

    apiVersion: suanli.dev/v1alpha1
    kind: Fleet
    pools:
      - name: h100-east
        count: 4
        tier: cloud
        region: us-east-1
        zone: us-east-1a
        cpu: "96"
        memory: 1Ti
        gpu: {vendor: nvidia, product: NVIDIA-H100-80GB-HBM3, count: 8, memoryMiB: 81559}
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A Kubernetes resource quantity: a signed decimal with an optional SI, binary or exponent suffix.
_QUANTITY = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
# A DNS-1123 label, which is what node-name prefixes and label values here must be.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class FleetError(ValueError):
    """A fleet file that cannot be used; the message names the field and the fix."""


def _check_quantity(value: str | int) -> str:
    text = str(value)
    if not _QUANTITY.match(text):
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; write e.g. '96', '500m', '512Gi' or '1Ti'"
        )
    return text


def _check_label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{value!r} is not a valid label value (at most 63 characters of [A-Za-z0-9-_.], "
            "starting and ending with an alphanumeric)"
        )
    return value


Quantity = Annotated[str, Field(description="A Kubernetes resource quantity such as 96 or 512Gi")]


class Tier(StrEnum):
    CLOUD = "cloud"
    EDGE = "edge"
    DEVICE = "device"


class GpuVendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    HUAWEI = "huawei"
    CAMBRICON = "cambricon"
    HYGON = "hygon"


# Where each vendor's device plugins name their resources.
_VENDOR_DOMAINS = {
    GpuVendor.NVIDIA: "nvidia.com",
    GpuVendor.AMD: "amd.com",
    GpuVendor.HUAWEI: "huawei.com",
    GpuVendor.CAMBRICON: "cambricon.com",
    GpuVendor.HYGON: "hygon.com",
}


class Interconnect(StrEnum):
    INFINIBAND = "infiniband"
    ROCE = "roce"
    ETHERNET = "ethernet"
    NVLINK = "nvlink"


class GpuSharing(StrEnum):
    """The device-sharing stack a pool runs (suanli.scoring.sharing reads it back)."""

    HAMI = "hami"
    TIME_SLICING = "time-slicing"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GpuSpec(_Strict):
    """Accelerators on each node of a pool, as the device plugin and labeller show them."""

    vendor: GpuVendor = GpuVendor.NVIDIA
    product: str = Field(
        min_length=1, description="Product label value, e.g. NVIDIA-H100-80GB-HBM3"
    )
    count: int = Field(ge=1, le=64)
    memory_mib: int = Field(alias="memoryMiB", ge=1, description="Memory of one device in MiB")
    family: str | None = Field(default=None, description="GPU family label, e.g. hopper")
    resource: str | None = Field(
        default=None,
        description=(
            "Extended resource the device plugin advertises when not the vendor's usual one "
            "(huawei.com/Ascend310P, huawei.com/Ascend310)"
        ),
    )

    sharing: GpuSharing | None = Field(
        default=None,
        description=(
            "A sharing stack on the pool's nodes: hami (vGPUs, gpumem and gpucores advertised, "
            "devices registered in hami.io/node-nvidia-register) or time-slicing "
            "(nvidia.com/gpu.shared replicas instead of nvidia.com/gpu)"
        ),
    )
    replicas: int = Field(
        default=10,
        ge=2,
        le=64,
        description="Virtual devices per physical one (HAMi's split count, time-slicing replicas)",
    )

    @field_validator("product", "family")
    @classmethod
    def _label_values(cls, value: str | None) -> str | None:
        return value if value is None else _check_label_value(value)

    @model_validator(mode="after")
    def _resource_of_vendor(self) -> GpuSpec:
        domain = _VENDOR_DOMAINS[self.vendor]
        if self.resource is not None and not self.resource.startswith(f"{domain}/"):
            raise ValueError(
                f"resource {self.resource!r} is not a {self.vendor.value} device resource; "
                f"{self.vendor.value} device plugins advertise names under {domain}/"
            )
        if self.sharing is not None and self.vendor is not GpuVendor.NVIDIA:
            raise ValueError(
                f"sharing {self.sharing.value!r} is an NVIDIA stack; drop it for "
                f"{self.vendor.value} devices"
            )
        return self


class HpcSpec(_Strict):
    """High-performance networking and CPU features of a pool."""

    interconnect: Interconnect | None = None
    rdma: bool = False
    cpu_features: list[str] = Field(default_factory=list, alias="cpuFeatures")
    racks: list[str] = Field(
        default_factory=list, description="Nodes are spread round-robin over these racks"
    )
    block: str | None = None

    @field_validator("cpu_features")
    @classmethod
    def _features_are_cpuid_names(cls, value: list[str]) -> list[str]:
        for feature in value:
            if not re.fullmatch(r"[A-Z0-9_]+", feature):
                raise ValueError(
                    f"{feature!r} is not a CPUID feature name as Node Feature Discovery writes it "
                    "(upper case, e.g. AVX512F)"
                )
        return value

    @field_validator("racks")
    @classmethod
    def _racks_are_labels(cls, value: list[str]) -> list[str]:
        for rack in value:
            _check_label_value(rack)
        return value


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class TaintSpec(_Strict):
    """A taint on every node of the pool, as `kubectl taint` or an edge agent sets it."""

    key: str = Field(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$"
    )
    value: str = ""
    effect: TaintEffect

    @field_validator("value")
    @classmethod
    def _value_is_label(cls, value: str) -> str:
        return _check_label_value(value)


class NodePool(_Strict):
    """A group of identical nodes named `<name>-<index>`."""

    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0, le=100_000)
    tier: Tier = Tier.CLOUD
    region: str | None = None
    zone: str | None = None
    site: str | None = None
    nodepool: str | None = Field(default=None, description="OpenYurt node pool, for edge nodes")
    cpu: Quantity = "32"
    memory: Quantity = "256Gi"
    pods: int = Field(default=110, ge=1)
    ephemeral_storage: Quantity = Field(default="1Ti", alias="ephemeralStorage")
    gpu: GpuSpec | None = None
    hpc: HpcSpec | None = None
    price_per_hour: float | None = Field(default=None, alias="pricePerHour", ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[TaintSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(
                f"{value!r} is not a DNS label: use lower-case letters, digits and '-' "
                "(node names are <name>-<index>)"
            )
        return value

    @field_validator("cpu", "memory", "ephemeral_storage", mode="before")
    @classmethod
    def _quantity(cls, value: str | int) -> str:
        return _check_quantity(value)

    @field_validator("region", "zone", "site", "nodepool")
    @classmethod
    def _label_values(cls, value: str | None) -> str | None:
        return value if value is None else _check_label_value(value)

    @field_validator("labels")
    @classmethod
    def _extra_label_values(cls, value: dict[str, str]) -> dict[str, str]:
        for label_value in value.values():
            _check_label_value(label_value)
        return value


class Fleet(_Strict):
    api_version: Literal["suanli.dev/v1alpha1"] = Field(
        default="suanli.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["Fleet"] = "Fleet"
    name: str = "fleet"
    pools: list[NodePool] = Field(min_length=1)

    @model_validator(mode="after")
    def _pool_names_unique(self) -> Fleet:
        seen: set[str] = set()
        for pool in self.pools:
            if pool.name in seen:
                raise ValueError(
                    f"pool name {pool.name!r} appears twice; pool names must be unique"
                )
            seen.add(pool.name)
        return self

    @property
    def node_count(self) -> int:
        return sum(pool.count for pool in self.pools)
