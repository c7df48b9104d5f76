"""What placing a pod on a node costs per hour: the pod's share of the node's price."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.scoring.context import Context
from suanli.scoring.resources import CPU, MEMORY
from suanli.scoring.snapshot import NodeSnapshot


@dataclass(frozen=True, slots=True)
class PodPrice:
    per_hour: float  # billed, USD/h
    share: float  # fraction of the node the pod takes, 0..1
    basis: str  # what the share was measured in, for reasons


def _share(context: Context, node: NodeSnapshot) -> tuple[float, str]:
    demand, facts = context.demand, node.facts
    accelerator = facts.accelerator
    if demand.gpu.wants and accelerator is not None and accelerator.count > 0:
        # Accelerator nodes are priced by their devices; the pod pays for the ones it takes
        # (a share pays its fraction of one device).
        if demand.gpu_milli:
            return min(1.0, demand.devices_wanted(accelerator.resource) / accelerator.count), (
                f"{demand.gpu_milli}m of one of {accelerator.count} {accelerator.resource}"
            )
        want = demand.requests.amount(accelerator.resource)
        return min(1.0, want / accelerator.count), (
            f"{want} of {accelerator.count} {accelerator.resource}"
        )
    # Otherwise the dominant share of CPU and memory, as in dominant-resource fairness.
    shares = [
        demand.requests.amount(r) / facts.allocatable.amount(r)
        if facts.allocatable.amount(r) > 0
        else 1.0
        for r in (CPU, MEMORY)
        if demand.requests.amount(r) > 0
    ]
    share = min(1.0, max(shares, default=0.0))
    return share, f"{share:.0%} of the node"


def pod_price(context: Context, node: NodeSnapshot) -> PodPrice:
    share, basis = _share(context, node)
    multiplier = context.config.billing.of(context.demand.spec.billing)
    return PodPrice(node.facts.price_per_hour * share * multiplier, share, basis)
