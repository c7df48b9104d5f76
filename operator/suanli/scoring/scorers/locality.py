"""Locality: preferred tier and zone, and latency to the nearest data site."""

from __future__ import annotations

from suanli.scoring import fmt
from suanli.scoring.context import Context
from suanli.scoring.scorers.signal import Signal, clamp, mean, rank_score
from suanli.scoring.snapshot import NodeSnapshot


def _latency_part(context: Context, node: NodeSnapshot) -> tuple[float, str]:
    spec = context.demand.spec
    nearest = context.latency.nearest(node.facts.places, spec.sites)
    if nearest is None:
        return 0.0, "latency unknown"
    horizon = spec.max_latency_ms
    if horizon is None:
        horizon = context.config.latency_horizon_ms
    if horizon <= 0:
        return (1.0 if nearest.ms <= 0 else 0.0), f"{fmt.number(nearest.ms)} ms to {nearest.site}"
    return clamp(1 - nearest.ms / horizon), f"{fmt.number(nearest.ms)} ms to {nearest.site}"


def score(context: Context, node: NodeSnapshot) -> Signal:
    spec, facts = context.demand.spec, node.facts
    parts: list[float] = []
    notes: list[str] = [f"tier {facts.tier}"]
    if spec.tiers:
        tiers = spec.tiers
        parts.append(rank_score(tiers.index(facts.tier), len(tiers)) if facts.tier in tiers else 0)
    elif not (spec.zones or spec.sites):
        # Work that names no place at all should leave edge capacity to the work that does.
        parts.append(context.config.tier_defaults.of(facts.tier))
    if spec.zones:
        zones = spec.zones
        parts.append(rank_score(zones.index(facts.zone), len(zones)) if facts.zone in zones else 0)
        notes.append(f"zone {facts.zone}")
    if spec.sites:
        value, note = _latency_part(context, node)
        parts.append(value)
        notes.append(note)
    return Signal(mean(parts), ", ".join(notes))
