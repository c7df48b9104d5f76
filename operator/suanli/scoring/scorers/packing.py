"""Packing: fill partly used nodes first (most-allocated), keep idle multi-device nodes whole.

Utilisation is measured after placing the pod, over the resources the pod asks for; devices
count double because stranded devices are what costs most. Taking part of an idle node that
has several devices is penalised further: a whole empty 8-GPU server is what the next big gang
needs.
"""

from __future__ import annotations

from suanli.scoring.context import Context
from suanli.scoring.resources import ACCELERATOR_RESOURCES, CPU, MEMORY, PODS
from suanli.scoring.scorers.signal import Signal, clamp
from suanli.scoring.snapshot import NodeSnapshot

_DEVICE_WEIGHT = 2.0


def _utilisation(context: Context, node: NodeSnapshot) -> float:
    requests = context.demand.requests
    measured = [r for r in (*sorted(ACCELERATOR_RESOURCES), CPU, MEMORY) if requests.amount(r)]
    if not measured:
        # A pod asking for nothing still takes a pod slot.
        measured = [PODS]
    weighted = 0.0
    total_weight = 0.0
    for resource in measured:
        allocatable = node.facts.allocatable.amount(resource)
        want = 1 if resource == PODS else requests.amount(resource)
        used = node.used(resource) + want
        weight = _DEVICE_WEIGHT if resource in ACCELERATOR_RESOURCES else 1.0
        weighted += weight * (clamp(used / allocatable) if allocatable > 0 else 0.0)
        total_weight += weight
    return weighted / total_weight


def score(context: Context, node: NodeSnapshot) -> Signal:
    value = _utilisation(context, node)
    accelerator = node.facts.accelerator
    if accelerator is not None and accelerator.count > 1 and context.demand.wants_accelerator:
        want = context.demand.requests.amount(accelerator.resource)
        idle = node.used(accelerator.resource) == 0
        if idle and want < accelerator.count:
            factor = context.config.break_idle_node
            return Signal(value * factor, f"{value:.0%} full after placing; breaks an idle node")
    return Signal(value, f"{value:.0%} full after placing")
