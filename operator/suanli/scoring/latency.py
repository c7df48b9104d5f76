"""Site-to-site network latency, from configuration.

A "site" is any location name a node can carry: an edge site (`suanli.dev/site`), a zone or a
region. The map is symmetric; a place is 0 ms from itself; a pair nobody wrote down is unknown
(None), which filters treat as out of bounds and scorers as the worst latency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.scoring.errors import LatencyError, load_document

_Pair = tuple[str, str]


def _pair(a: str, b: str) -> _Pair:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class LatencyMap:
    """Symmetric round-trip latency in milliseconds between named places."""

    links: Mapping[_Pair, float] = field(default_factory=lambda: MappingProxyType({}))

    def between(self, a: str, b: str) -> float | None:
        if a == b:
            return 0.0
        return self.links.get(_pair(a, b))

    def nearest(self, places: Iterable[str | None], targets: Iterable[str]) -> Latency | None:
        """The closest target seen from a node, or None if no latency is known.

        `places` are the node's location names from most to least specific (site, zone,
        region); the most specific name with a known latency to a target speaks for the node,
        so a zone entry overrides its region's.
        """
        best: Latency | None = None
        for target in sorted(set(targets)):
            for place in places:
                if place is None:
                    continue
                ms = self.between(place, target)
                if ms is not None:
                    if best is None or ms < best.ms:
                        best = Latency(target, ms)
                    break
        return best

    @property
    def places(self) -> frozenset[str]:
        return frozenset(name for pair in self.links for name in pair)


@dataclass(frozen=True, slots=True)
class Latency:
    site: str
    ms: float


class _LatencySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["suanli.dev/v1alpha1"] = Field(
        default="suanli.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["LatencyMap"] = "LatencyMap"
    latency_ms: dict[str, dict[str, float]] = Field(alias="latencyMs")


def _links(spec: _LatencySpec, where: str) -> dict[_Pair, float]:
    links: dict[_Pair, float] = {}
    for a, row in sorted(spec.latency_ms.items()):
        for b, ms in sorted(row.items()):
            path = f"invalid {where}:\n  latencyMs.{a}.{b}"
            if not math.isfinite(ms) or ms < 0:
                raise LatencyError(f"{path}: must be a finite ms >= 0")
            if a == b:
                if ms != 0:
                    raise LatencyError(f"{path}: a place is 0 ms away")
                continue
            known = links.get(_pair(a, b))
            if known is not None and known != ms:
                raise LatencyError(
                    f"{path}: {ms:g} ms, but latencyMs.{b}.{a} says {known:g} ms; "
                    "latency is symmetric, write one of them"
                )
            links[_pair(a, b)] = ms
    return links


def parse_latency(source: str | Mapping[str, object], where: str = "latency map") -> LatencyMap:
    """Validate a latency map from YAML text or loaded data; LatencyError names the field.

    `where` (a file path, say) starts every error message.
    """
    spec, _ = load_document(source, where, _LatencySpec, LatencyError, "a mapping with 'latencyMs'")
    return LatencyMap(MappingProxyType(_links(spec, where)))
