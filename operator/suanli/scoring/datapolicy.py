"""The data policy: which data classes may run on which nodes, and where data may not leave.

A job declares how sensitive its data is (a classification) and, optionally, its residency (the
regions or zones its data may not leave). The policy, a file beside the catalog, lists per class
the rules a node may meet: each rule names tiers, a minimum `suanli.dev/trust-level`, trusted
execution environments (any one of them) and regions, and a node is allowed when it meets every
condition of one rule. The first rule met, in the file's order, is the one a placement records.

A class the policy lists no rule for runs nowhere: an omission never opens a door.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.scoring import fmt
from suanli.scoring.errors import DataPolicyError, load_document
from suanli.scoring.facts import NodeFacts, Tier
from suanli.scoring.trust import MAX_TRUST_LEVEL, Tee

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Classification(StrEnum):
    """How much harm a leak would do, least first."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


# The classes whose every placement records the rule that allowed it (an audit trail).
RECORDED = frozenset({Classification.CONFIDENTIAL, Classification.RESTRICTED})


def _located(facts: NodeFacts, places: frozenset[str]) -> bool:
    return facts.region in places or facts.zone in places


def _where(facts: NodeFacts) -> str:
    parts = [f"region {facts.region}" if facts.region else "no region label"]
    if facts.zone:
        parts.append(f"zone {facts.zone}")
    return ", ".join(parts)


def _shown(values: Iterable[str]) -> str:
    return fmt.names(sorted(values))


@dataclass(frozen=True, slots=True)
class DataRule:
    """One way a node may hold a class's data; empty conditions are not checked."""

    name: str
    tiers: frozenset[Tier] = frozenset()
    min_trust_level: int | None = None
    tees: frozenset[Tee] = frozenset()  # any one of them
    regions: frozenset[str] = frozenset()  # region or zone names

    def unmet(self, facts: NodeFacts) -> str | None:
        """The first condition the node does not meet, in words; None when it meets them all."""
        if self.tiers and facts.tier not in self.tiers:
            return f"tier {facts.tier} not in {_shown(self.tiers)}"
        if self.min_trust_level is not None and facts.trust_level < self.min_trust_level:
            return f"trust-level {facts.trust_level} < {self.min_trust_level}"
        if self.tees and not self.tees & facts.tees:
            have = _shown(facts.tees) if facts.tees else "none"
            return f"TEE {have}, want one of {_shown(self.tees)}"
        if self.regions and not _located(facts, self.regions):
            return f"{_where(facts)} not in {_shown(self.regions)}"
        return None

    def basis(self, facts: NodeFacts) -> str:
        """What the node showed to meet the rule: `tier cloud; TEE tdx; trust-level 4`."""
        parts: list[str] = []
        if self.tiers:
            parts.append(f"tier {facts.tier}")
        if self.tees:
            parts.append(f"TEE {', '.join(sorted(self.tees & facts.tees))}")
        if self.min_trust_level is not None:
            parts.append(f"trust-level {facts.trust_level}")
        if self.regions:
            parts.append(_where(facts))
        return "; ".join(parts) or "no conditions"


@dataclass(frozen=True)
class DataPolicy:
    name: str
    classes: Mapping[Classification, tuple[DataRule, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def rules(self, classification: Classification) -> tuple[DataRule, ...]:
        return self.classes.get(classification, ())

    def allowing(self, classification: Classification, facts: NodeFacts) -> DataRule | None:
        """The first rule of the class the node meets; None: the class may not run there."""
        return next((r for r in self.rules(classification) if r.unmet(facts) is None), None)

    def refusal(self, classification: Classification, facts: NodeFacts) -> tuple[str, str] | None:
        """(reason for this node, reason without node specifics) when the class may not run
        on the node; None when a rule allows it."""
        rules = self.rules(classification)
        category = f"{classification} data not allowed by data policy {self.name}"
        if not rules:
            return f"data policy {self.name} allows {classification} data on no node", category
        unmet = [(r.name, r.unmet(facts)) for r in rules]
        if any(why is None for _, why in unmet):
            return None
        detail = "; ".join(f"rule {name}: {why}" for name, why in unmet)
        return f"{classification} data not allowed ({detail})", category


# Without a policy file: what no one would object to. Sensitive data waits for a real policy.
BASELINE_POLICY = DataPolicy(
    "baseline",
    MappingProxyType(
        {
            Classification.PUBLIC: (DataRule("anywhere"),),
            Classification.INTERNAL: (DataRule("anywhere"),),
        }
    ),
)


def residency_refusal(residency: Iterable[str], facts: NodeFacts) -> tuple[str, str] | None:
    """(reason, category) when the node is outside every place the data may stay in; a node
    without region and zone labels cannot show that it is inside."""
    places = frozenset(residency)
    if not places or _located(facts, places):
        return None
    shown = _shown(places)
    return f"{_where(facts)} outside data residency {shown}", f"outside data residency {shown}"


def rule_conflict(rule: DataRule, tiers: Iterable[Tier], residency: Iterable[str]) -> str | None:
    """Why no node can meet both the rule and a job's own bounds (its acceptable tiers and its
    residency), whatever the fleet; None when some node could. Region and zone names cannot be
    told apart without the fleet, so residency conflicts only when both name regions alike."""
    wanted = frozenset(tiers)
    if rule.tiers and wanted and not rule.tiers & wanted:
        return f"rule {rule.name} needs tier {_shown(rule.tiers)}, the job allows {_shown(wanted)}"
    places = frozenset(residency)
    if rule.regions and places and not rule.regions & places:
        return (
            f"rule {rule.name} needs {_shown(rule.regions)}, the data may not leave "
            f"{_shown(places)}"
        )
    return None


# --- the file format (a pydantic boundary) ---------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _RuleSpec(_Strict):
    name: str = Field(min_length=1, max_length=63, pattern=_NAME)
    tiers: tuple[Tier, ...] = ()
    min_trust_level: int | None = Field(
        default=None, alias="minTrustLevel", ge=0, le=MAX_TRUST_LEVEL
    )
    tees: tuple[Tee, ...] = ()
    regions: tuple[str, ...] = ()


class _PolicySpec(_Strict):
    api_version: Literal["suanli.dev/v1alpha1"] = Field(
        default="suanli.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["DataPolicy"] = "DataPolicy"
    name: str = Field(default="default", min_length=1, max_length=63, pattern=_NAME)
    classes: dict[Classification, tuple[_RuleSpec, ...]]

    @model_validator(mode="after")
    def _names_once(self) -> Self:
        for classification, rules in self.classes.items():
            names = [r.name for r in rules]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(
                    f"classes.{classification} names rule {twice[0]} twice; a placement "
                    "records the rule by name, so give each rule its own"
                )
        return self


def _rule(spec: _RuleSpec) -> DataRule:
    return DataRule(
        spec.name,
        frozenset(spec.tiers),
        spec.min_trust_level,
        frozenset(spec.tees),
        frozenset(r.strip() for r in spec.regions if r.strip()),
    )


def parse_data_policy(source: str | Mapping[str, object], where: str = "data policy") -> DataPolicy:
    """Validate a data policy from YAML text or loaded data; DataPolicyError names the field."""
    spec, _ = load_document(source, where, _PolicySpec, DataPolicyError, "a mapping with 'classes'")
    classes = {c: tuple(_rule(r) for r in rules) for c, rules in spec.classes.items()}
    return DataPolicy(spec.name, MappingProxyType(classes))
