"""Accelerator fit: the preferred type, enough performance, and no big device wasted.

Ranked types occupy bands: with n accepted types, choice k (0-based) scores within
[(n-1-k)/n, (n-k)/n], so a more preferred type never scores below a less preferred one whatever
the finer terms say. Within a band (and for demands accepting any type) the score blends
performance and snugness, weighted by how much of the node the pod takes: a pod taking every
device wants the fastest; a pod taking one of eight should not tie up an H100 a T4 could serve.
"""

from __future__ import annotations

from suanli.scoring.context import Context
from suanli.scoring.facts import AcceleratorFacts
from suanli.scoring.scorers.signal import Signal, clamp
from suanli.scoring.snapshot import NodeSnapshot


def _snugness(context: Context, accelerator: AcceleratorFacts, performance: float) -> float:
    """1 when the device is no bigger than the pod needs."""
    minimum = context.demand.spec.min_accelerator_memory_gib
    if minimum is not None:
        memory = accelerator.memory_gib
        return min(1.0, minimum / memory) if memory else 0.0
    # Without a memory hint, a slower device is the snugger one.
    return 1.0 - performance


def _within(context: Context, accelerator: AcceleratorFacts) -> float:
    performance = min(1.0, accelerator.type.performance) if accelerator.type else 0.0
    want = context.demand.devices_wanted(accelerator.resource)
    size = min(1.0, want / accelerator.count) if accelerator.count else 0.0
    return clamp(size * performance + (1 - size) * _snugness(context, accelerator, performance))


def score(context: Context, node: NodeSnapshot) -> Signal:
    accelerator = node.facts.accelerator
    if not context.demand.wants_accelerator:
        if accelerator is None:
            return Signal(1.0, "no accelerator asked, none here")
        # CPU work on a GPU node strands the devices; send it elsewhere when it can go.
        return Signal(0.0, f"keeps {accelerator.count} {accelerator.type_name} free")
    if accelerator is None:
        return Signal(0.0, "no accelerator")
    accepted = context.accepted
    name = accelerator.type_name
    if not accepted and context.workload:
        # Which type an untyped pod should leave for others is what workload-aware packing
        # measures (fragmentation and the pressure of typed pods); no static guess here.
        return Signal(1.0, f"{name}, any type accepted; packing decides")
    within = _within(context, accelerator)
    if not accepted:
        return Signal(within, f"{name}, any type accepted")
    if name not in accepted:
        return Signal(0.0, f"{name} not accepted")
    position, length = accepted.index(name), len(accepted)
    value = clamp((length - 1 - position + within) / length)
    return Signal(value, f"{name} is choice {position + 1} of {length}")
