"""What a pod asks for: its resource requests plus the `suanli.dev/demand` annotation.

The annotation is one JSON object, validated strictly (unknown fields are errors) so a typo in a
hard requirement never silently turns into "any node will do".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from suanli.fielderrors import describe
from suanli.keys import DEMAND_ANNOTATION, GPU_MILLI_ANNOTATION, JOB_LABEL
from suanli.scoring.datapolicy import Classification
from suanli.scoring.devices import MILLI_PER_DEVICE, GpuRequest
from suanli.scoring.errors import DemandError, QuantityError
from suanli.scoring.facts import Domain, Tier
from suanli.scoring.resources import ACCELERATOR_RESOURCES, Resources, pod_requests
from suanli.scoring.sharing import HAMI_GPU, ShareStack, pod_stack
from suanli.scoring.taints import Toleration, pod_tolerations


class Billing(StrEnum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Weights(_Strict):
    """Relative weight of each signal in the node score."""

    accelerator: float = Field(default=4.0, ge=0, le=100)
    hpc: float = Field(default=2.0, ge=0, le=100)
    locality: float = Field(default=3.0, ge=0, le=100)
    cost: float = Field(default=1.0, ge=0, le=100)
    packing: float = Field(default=2.0, ge=0, le=100)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if self.accelerator + self.hpc + self.locality + self.cost + self.packing <= 0:
            raise ValueError("at least one weight must be positive")
        return self


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


class DataDemand(_Strict):
    """How sensitive the pod's data is, and the regions or zones it may not leave."""

    classification: Classification
    residency: tuple[str, ...] = ()

    @field_validator("residency")
    @classmethod
    def _places(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("names must not be empty")
        return _unique(value)


class DemandSpec(_Strict):
    """The `suanli.dev/demand` annotation. Lists are ordered preferences; empty means any."""

    accelerator_types: tuple[str, ...] = Field(default=(), alias="acceleratorTypes")
    min_accelerator_memory_gib: float | None = Field(
        default=None, alias="minAcceleratorMemoryGiB", gt=0
    )
    interconnect: str | None = Field(default=None, min_length=1)
    rdma: bool = False
    cpu_features: tuple[str, ...] = Field(default=(), alias="cpuFeatures")
    same_domain: Domain | None = Field(default=None, alias="sameDomain")
    tiers: tuple[Tier, ...] = ()
    zones: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    max_latency_ms: float | None = Field(default=None, alias="maxLatencyMs", ge=0)
    max_price_per_hour: float | None = Field(default=None, alias="maxPricePerHour", ge=0)
    billing: Billing = Billing.ON_DEMAND
    weights: Weights = Weights()
    data: DataDemand | None = None

    @field_validator("accelerator_types", "zones", "sites")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("names must not be empty")
        return _unique(value)

    @field_validator("tiers")
    @classmethod
    def _tiers_unique(cls, value: tuple[Tier, ...]) -> tuple[Tier, ...]:
        _unique(tuple(t.value for t in value))
        return value

    @field_validator("interconnect")
    @classmethod
    def _interconnect_lower(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().lower()

    @field_validator("cpu_features")
    @classmethod
    def _features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Node Feature Discovery writes CPUID flags in upper case (AVX512F).
        return _unique(tuple(item.strip().upper() for item in value if item.strip()))

    @field_validator("max_latency_ms")
    @classmethod
    def _latency_needs_sites(cls, value: float | None, info: ValidationInfo) -> float | None:
        # `sites` is declared earlier, so it is already validated here.
        if value is not None and not info.data.get("sites"):
            raise ValueError("needs sites: the latency is measured to them")
        return value


def parse_demand_annotation(text: str | None) -> DemandSpec:
    """The annotation's JSON; DemandError names the bad field."""
    if text is None or not text.strip():
        return DemandSpec()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DemandError(f"annotation {DEMAND_ANNOTATION} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise DemandError(f"annotation {DEMAND_ANNOTATION} must be a JSON object")
    try:
        # Strict JSON mode: "rdma": "yes" or "maxLatencyMs": "20" are errors, not guesses.
        return DemandSpec.model_validate_json(text, strict=True)
    except ValidationError as error:
        raise DemandError(describe(error, f"annotation {DEMAND_ANNOTATION}", data)) from None


@dataclass(frozen=True, slots=True)
class PodDemand:
    """One pod's request, ready for filtering and scoring."""

    requests: Resources
    spec: DemandSpec = field(default_factory=DemandSpec)
    namespace: str = "default"
    name: str = ""
    job: str | None = None  # "namespace/name" of the job the pod belongs to
    # A share of one device in milli-devices (1..1000) from `suanli.dev/gpu-milli`; 0 when the
    # pod asks for whole devices or none.
    gpu_milli: int = 0
    tolerations: tuple[Toleration, ...] = ()

    # Derived from the requests once: decisions read them for every node they judge.
    _accelerators: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _gpu: GpuRequest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        accelerators = whole_device_resources(self.requests, sharing=self.gpu_milli > 0)
        object.__setattr__(self, "_accelerators", accelerators)
        count = sum(self.requests.amount(r) for r in accelerators)
        if self.gpu_milli and (count or not 0 < self.gpu_milli <= MILLI_PER_DEVICE):
            raise DemandError(
                f"pod {self.key}: a device share is 1..{MILLI_PER_DEVICE} milli and excludes "
                "whole devices"
            )
        object.__setattr__(self, "_gpu", GpuRequest(count, self.gpu_milli))

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def judged_by(self) -> tuple[object, ...]:
        """Everything of the pod that filters and scores read (peers aside): pods equal in
        these are judged alike, so decisions may share memos by it."""
        return (self.requests, self.spec, self.gpu_milli, self.tolerations)

    @property
    def accelerator_resources(self) -> tuple[str, ...]:
        return self._accelerators

    @property
    def share_stack(self) -> ShareStack | None:
        """The sharing stack a share pod was written for (its requests say); None for pods
        that take whole devices or none."""
        return pod_stack(self.requests) if self.gpu_milli else None

    @property
    def accelerator_count(self) -> int:
        return self._gpu.whole

    @property
    def gpu(self) -> GpuRequest:
        """The device request: whole devices of the requested resource, or one share."""
        return self._gpu

    def devices_wanted(self, resource: str) -> float:
        """Devices of `resource` the pod takes: whole ones, or a share of any vendor's device."""
        return self.requests.amount(resource) + self.gpu_milli / MILLI_PER_DEVICE

    @property
    def wants_accelerator(self) -> bool:
        """Devices requested, or a type or device memory named (which only devices satisfy)."""
        spec = self.spec
        return (
            self.accelerator_count > 0
            or self.gpu_milli > 0
            or bool(spec.accelerator_types)
            or spec.min_accelerator_memory_gib is not None
        )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def job_of(pod: Mapping[str, Any]) -> str | None:
    """`namespace/name` from the job label; label values cannot hold the namespace themselves."""
    metadata = _mapping(pod.get("metadata"))
    name = _mapping(metadata.get("labels")).get(JOB_LABEL)
    if not isinstance(name, str) or not name:
        return None
    return f"{metadata.get('namespace') or 'default'}/{name}"


def whole_device_resources(requests: Resources, *, sharing: bool) -> tuple[str, ...]:
    """The accelerator resources a pod requests as whole devices, sorted. A share pod written
    for HAMi also asks for `nvidia.com/gpu: 1`, which HAMi counts as a virtual GPU."""
    found = sorted(r for r in requests if r in ACCELERATOR_RESOURCES)
    if sharing and pod_stack(requests) is ShareStack.HAMI:
        found = [r for r in found if r != HAMI_GPU]
    return tuple(found)


def parse_gpu_milli(value: object, requests: Resources) -> int:
    """The `suanli.dev/gpu-milli` annotation: a share of one device, 1..1000 milli-devices.

    Whole devices come from the extended resource; asking for both would leave the device plugin
    two answers, so it is an error.
    """
    if value is None:
        return 0
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdigit() or not 1 <= int(text) <= MILLI_PER_DEVICE:
        raise DemandError(
            f"annotation {GPU_MILLI_ANNOTATION}: {value!r} is not a whole number of "
            f"milli-devices from 1 to {MILLI_PER_DEVICE}"
        )
    whole = whole_device_resources(requests, sharing=True)
    if whole:
        raise DemandError(
            f"annotation {GPU_MILLI_ANNOTATION}: a pod asks for a share of one device or for "
            f"whole devices ({', '.join(whole)}), not both"
        )
    return int(text)


def parse_pod(pod: Mapping[str, Any]) -> PodDemand:
    """The demand of a Pod object (a plain dict); DemandError if it cannot be understood."""
    metadata = _mapping(pod.get("metadata"))
    annotations = _mapping(metadata.get("annotations"))
    annotation = annotations.get(DEMAND_ANNOTATION)
    if annotation is not None and not isinstance(annotation, str):
        raise DemandError(f"annotation {DEMAND_ANNOTATION} must be a string of JSON")
    try:
        requests = pod_requests(pod)
    except QuantityError as error:
        raise DemandError(f"pod resources: {error}") from None
    return PodDemand(
        requests=requests,
        spec=parse_demand_annotation(annotation),
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata.get("name") or ""),
        job=job_of(pod),
        gpu_milli=parse_gpu_milli(annotations.get(GPU_MILLI_ANNOTATION), requests),
        tolerations=pod_tolerations(_mapping(pod.get("spec"))),
    )
