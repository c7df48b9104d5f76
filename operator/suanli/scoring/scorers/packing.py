"""Packing: leave the cluster best able to host the work still to come.

With a workload of typical request shapes (see `fragmentation`), the signal follows the change of
the node's expected GPU fragmentation: 0.5 when placing the pod changes nothing, towards 1 when it
fills capacity no typical pod could use, towards 0 when it leaves idle capacity unusable (a
share that leaves an odd remainder, CPU work that takes the cpu a GPU node's devices need, a
small pod breaking an idle 8-device server that whole-node pods are waiting for).

Without a workload (nothing placed yet, or a caller that passes none) it is most-allocated:
utilisation after placing, over the resources the pod requests, devices counting double because
stranded devices are what costs most; halved when the pod would take part of an idle node with
several devices, because whole empty servers are what big gangs need.
"""

from __future__ import annotations

import math

from suanli.scoring.config import ScoringConfig
from suanli.scoring.context import Context
from suanli.scoring.devices import MILLI_PER_DEVICE, format_allocation
from suanli.scoring.facts import NodeFacts
from suanli.scoring.resources import ACCELERATOR_RESOURCES, CPU, MEMORY, PODS
from suanli.scoring.scorers.signal import Signal, clamp
from suanli.scoring.snapshot import NodeSnapshot

_DEVICE_WEIGHT = 2.0
_SHARE = "device share"  # the pseudo-resource a share is measured in


def _device_fill(context: Context, node: NodeSnapshot) -> float:
    """Device capacity in use after placing, measured device by device (shares included)."""
    accelerator = node.facts.accelerator
    if accelerator is None or accelerator.count <= 0:
        return 0.0
    want = context.demand.devices_wanted(accelerator.resource) * MILLI_PER_DEVICE
    return clamp((sum(node.devices_used()) + want) / (accelerator.count * MILLI_PER_DEVICE))


def _fill(context: Context, node: NodeSnapshot, resource: str) -> float:
    accelerator = node.facts.accelerator
    if resource == _SHARE or (accelerator is not None and resource == accelerator.resource):
        return _device_fill(context, node)
    allocatable = node.facts.allocatable.amount(resource)
    want = 1 if resource == PODS else context.demand.requests.amount(resource)
    used = node.used(resource) + want
    return clamp(used / allocatable) if allocatable > 0 else 0.0


def _utilisation(context: Context, node: NodeSnapshot) -> float:
    requests = context.demand.requests
    # The demand's own whole-device resources: HAMi's vGPU of a share pod is the share itself.
    devices = context.demand.accelerator_resources
    measured = [r for r in (*devices, CPU, MEMORY) if requests.amount(r)]
    if context.demand.gpu_milli:
        measured.insert(0, _SHARE)
    if not measured:
        # A pod asking for nothing still takes a pod slot.
        measured = [PODS]
    weighted = 0.0
    total_weight = 0.0
    for resource in measured:
        weight = _DEVICE_WEIGHT if resource in ACCELERATOR_RESOURCES or resource == _SHARE else 1.0
        weighted += weight * _fill(context, node, resource)
        total_weight += weight
    return weighted / total_weight


def _most_allocated(context: Context, node: NodeSnapshot) -> Signal:
    value = _utilisation(context, node)
    accelerator = node.facts.accelerator
    if accelerator is not None and accelerator.count > 1 and context.demand.wants_accelerator:
        want = context.demand.devices_wanted(accelerator.resource)
        idle = not any(node.devices_used())
        if idle and want < accelerator.count:
            factor = context.config.break_idle_node
            return Signal(value * factor, f"{value:.0%} full after placing; breaks an idle node")
    return Signal(value, f"{value:.0%} full after placing")


def fragmentation_value(change: float, config: ScoringConfig) -> float:
    """The packing signal for a change of expected fragmentation (plus reserved capacity
    taken), in milli-devices: 0.5 for none, towards 1 for less, towards 0 for more."""
    return 0.5 - 0.5 * math.tanh(change / config.fragmentation_scale_milli)


def fragmentation_change(context: Context, node: NodeSnapshot) -> float:
    """How much placing the pod changes the node's expected fragmentation (its best device
    choice), in milli-devices; what of the packing signal depends on the node's usage."""
    plan = context.plan(node)
    return plan.delta if plan is not None else 0.0


def packing_value(change: float, reserved: float, config: ScoringConfig) -> float:
    """The packing signal from the fragmentation change and the typed capacity taken."""
    # `clamp(fragmentation_value(...))` in one call: asked per usage state and class.
    return clamp(0.5 - 0.5 * math.tanh((change + reserved) / config.fragmentation_scale_milli))


def _fragmentation(context: Context, node: NodeSnapshot) -> Signal:
    plan = context.plan(node)
    delta = fragmentation_change(context, node)
    reserved = reservation(context, node)
    value = packing_value(delta, reserved, context.config)
    where = f"; devices {format_allocation(plan.allocation)}" if plan and plan.allocation else ""
    kept = f"; takes {reserved / MILLI_PER_DEVICE:.2f} kept for typed pods" if reserved else ""
    return Signal(value, f"fragmentation {delta / MILLI_PER_DEVICE:+.2f} devices{kept}{where}")


def reservation(context: Context, node: NodeSnapshot) -> float:
    """Milli-devices the pod takes of capacity that pods accepting only this node's type are
    expected to need (the workload's pressure on the type)."""
    return reservation_on(context, node.facts)


def reservation_on(context: Context, facts: NodeFacts) -> float:
    """`reservation` from the node's facts alone (it depends on nothing else)."""
    accelerator = facts.accelerator
    if accelerator is None or accelerator.type is None:
        return 0.0
    pressure = context.workload.pressure_on(accelerator.type.name)
    return pressure * context.demand.gpu.total_milli


def score(context: Context, node: NodeSnapshot) -> Signal:
    if context.workload:
        return _fragmentation(context, node)
    return _most_allocated(context, node)
