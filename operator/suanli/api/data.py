"""How sensitive a ComputeJob's data is, and the record of what allowed each placement.

Kept beside `suanli.api.models`, which embeds these in the spec and the status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A label value (regions and zones are node label values), as in `suanli.api.models.NAME`.
_PLACE = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
MAX_RESIDENCY = 32


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Classification(StrEnum):
    """How much harm a leak of the job's data would do, least first."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


Place = Annotated[str, Field(min_length=1, max_length=63, pattern=_PLACE)]


class Data(_Model):
    """The job's data: its classification and where it must stay."""

    classification: Classification = Field(
        description=(
            "public, internal, confidential or restricted. The cluster's data policy lists "
            "the node tiers, trust levels (suanli.dev/trust-level), trusted execution "
            "environments (Node Feature Discovery's cpu-security labels) and regions each "
            "class may run on; other nodes are not used. A class the policy allows on no "
            "node, or only where the job's own bounds exclude, is refused at apply."
        )
    )
    residency: list[Place] = Field(
        default_factory=list,
        max_length=MAX_RESIDENCY,
        description=(
            "Regions or zones (topology.kubernetes.io/region or zone values) the data may not "
            "leave; nodes elsewhere, or without those labels, are not used. Empty: anywhere "
            "the classification allows."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class DataPlacement(_Model):
    """Which rule of the data policy allowed a pod of confidential or restricted data where it
    runs."""

    classification: Classification = Field(description="The job's data classification.")
    policy: str = Field(max_length=63, description="The data policy's name.")
    rule: str = Field(max_length=63, description="The policy's rule the node met.")
    basis: str = Field(
        default="",
        max_length=1024,
        description="What the node showed to meet it, e.g. `tier cloud; TEE tdx`.",
    )
