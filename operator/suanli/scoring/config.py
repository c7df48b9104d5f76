"""Tunable constants of the scoring core, as one immutable object passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from suanli.scoring.demand import Billing
from suanli.scoring.facts import Tier


@dataclass(frozen=True, slots=True)
class BillingMultipliers:
    """What a device-hour costs under each billing model, relative to on-demand."""

    on_demand: float = 1.0
    spot: float = 0.35
    reserved: float = 0.6

    def of(self, billing: Billing) -> float:
        if billing is Billing.SPOT:
            return self.spot
        if billing is Billing.RESERVED:
            return self.reserved
        return self.on_demand


@dataclass(frozen=True, slots=True)
class TierDefaults:
    """Locality score per tier when a demand names no tiers: edge capacity is scarce and
    placed near its data, so work that does not ask for it should not take it."""

    cloud: float = 1.0
    edge: float = 0.6
    device: float = 0.3

    def of(self, tier: Tier) -> float:
        if tier is Tier.EDGE:
            return self.edge
        if tier is Tier.DEVICE:
            return self.device
        return self.cloud


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    billing: BillingMultipliers = field(default_factory=BillingMultipliers)
    tier_defaults: TierDefaults = field(default_factory=TierDefaults)
    # Cost scores 0 at this price (USD/h) when the demand sets no ceiling; the scale is
    # logarithmic so that 0.05/h and 100/h nodes are both told apart from their neighbours.
    price_horizon_per_hour: float = 1000.0
    # Latency scores 0 at this many ms when the demand sets no maxLatencyMs.
    latency_horizon_ms: float = 250.0
    # Device memory labels report usable memory, up to ~7% below the size on the box
    # (T4: 15360 MiB, H100: 81559 MiB); a demand for "16 GiB" means the 16 GB card.
    memory_tolerance: float = 0.07
    # HPC score of an RDMA / fast-interconnect node for work that asks for neither.
    plain_work_on_hpc_node: float = 0.5
    # Packing factor for taking part of a whole, idle multi-device node (without a workload).
    break_idle_node: float = 0.5
    # With a workload, packing is 0.5 - 0.5 tanh(increase of expected fragmentation / this), in
    # milli-devices: half a device's worth of new fragments moves it most of the way to 0.
    fragmentation_scale_milli: float = 500.0


DEFAULT_CONFIG = ScoringConfig()
