"""The device choice for a pod on a node that adds least expected fragmentation
(`suanli.scoring.fragmentation`): the tightest fit among equals, then the lowest index; and the
memos of such plans per node state and request, and per what a plan depends on."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import NamedTuple

from suanli.scoring.devices import Allocation, GpuRequest, candidates, options_of
from suanli.scoring.fragmentation import FragmentationMemo, NodeState, node_state, remembered
from suanli.scoring.resources import CPU, MEMORY, PODS
from suanli.scoring.shapes import Workload
from suanli.scoring.snapshot import NodeSnapshot

# state, whole, milli, cpu, memory; or the same as far as fragmentation can tell (`planned`)
PlanKey = tuple["NodeState", int, int, int, int] | tuple[object, ...]


class Plan(NamedTuple):
    """Where on the node the pod's devices go and what that does to fragmentation (a named
    tuple, made once per option of every plan)."""

    allocation: Allocation
    delta: float  # change of the node's expected fragmentation, milli-devices; 0 without shapes


# What a memo of plans holds for a key it has not seen (None is a plan: the devices lack room).
_UNPLANNED = Plan((), math.nan)


def plan(
    node: NodeSnapshot,
    request: GpuRequest,
    cpu: int,
    memory: int,
    workload: Workload,
    *,
    memo: FragmentationMemo | None = None,
    plans: dict[PlanKey, Plan | None] | None = None,
    state: NodeState | None = None,
) -> Plan | None:
    """The device choice with the smallest fragmentation increase (the tightest fit first among
    equals, then the lowest index), or None when the devices cannot take the request. `memo`
    keeps fragmentation per node state for one workload: many nodes of a cluster look alike.
    `plans` keeps plans per node state and request for one workload: a plan depends on nothing
    else, and nodes of different classes (labels aside alike) meet the same states. `state`:
    the node's `node_state`, when the caller has it."""
    if not workload:
        options = candidates(node.devices_used(), request)
        return Plan(options[0], 0.0) if options else None
    if not request.wants:
        if state is not None:  # read from the node state, which holds the same (`node_state`)
            free = (state.cpu, state.memory, state.pods)
            resource, type_name = state.resource, state.type_name
        else:
            accelerator = node.facts.accelerator
            free = (node.free(CPU), node.free(MEMORY), node.free(PODS))
            resource = accelerator.resource if accelerator else ""
            type_name = accelerator.type.name if accelerator and accelerator.type else None
        # Only cpu, memory and a pod slot change: when no relevant shape's hostability changes
        # with them, every term of the node's fragmentation stays, and so does the sum.
        if workload.index.hosts_alike(resource, type_name, free, (cpu, memory)):
            return Plan((), 0.0)
    if state is None:
        state = node_state(node)
    if plans is None:
        return _best_plan(
            state, candidates(node.devices_used(), request), cpu, memory, workload, memo=memo
        )
    return planned(
        state, request.whole, request.milli, cpu, memory, workload=workload, memo=memo, plans=plans
    )


def planned(
    state: NodeState,
    whole: int,
    milli: int,
    cpu: int,
    memory: int,
    *,
    workload: Workload,
    memo: FragmentationMemo | None,
    plans: dict[PlanKey, Plan | None],
) -> Plan | None:
    """`plan` on a node state (a request of `whole` devices or a `milli` share, or neither),
    with a workload and a memo of plans, kept per node state and request: asked without the
    node, whose state says all a plan reads."""
    key = (state, whole, milli, cpu, memory)
    found = plans.get(key, _UNPLANNED)
    if found is _UNPLANNED:
        found = plans[key] = planned_alike(
            state, whole, milli, cpu, memory, workload=workload, memo=memo, plans=plans
        )
    return found


def planned_alike(
    state: NodeState,
    whole: int,
    milli: int,
    cpu: int,
    memory: int,
    *,
    workload: Workload,
    memo: FragmentationMemo | None,
    plans: dict[PlanKey, Plan | None],
) -> Plan | None:
    """`planned`, kept in `plans` only per what a plan depends on (below), not per node state
    and request as well: for a caller that keeps what it needs of the plan per state itself."""
    # Node states that differ only where no shape's hostability changes, before or after the
    # pod, have the same plan: most new states are met with another state's plan. What a plan
    # depends on: the devices, the request, and of the cpu, memory and pod slots before and
    # after the pod only which shapes they leave hostable (`fragmentation` compares them with
    # the shapes' cpu and memory and with 1 only). The options are the devices'
    # (`candidates`), and each option's change the fragmentation of these before and after.
    cpus, memories = workload.index.limits(state.resource, state.type_name)
    free, free_cpu, free_memory, pods = state.free, state.cpu, state.memory, state.pods
    alike = (
        free,
        state.resource,
        state.type_name,
        whole,
        milli,
        bisect_right(cpus, free_cpu),
        bisect_right(cpus, free_cpu - cpu),
        bisect_right(memories, free_memory),
        bisect_right(memories, free_memory - memory),
        pods >= 1,
        pods >= 2,
    )
    found = plans.get(alike, _UNPLANNED)
    if found is _UNPLANNED:
        # The state's free devices are those `candidates` reads (`free_of` of the same usage).
        options = options_of(free, whole, milli) if whole or milli else ((),)
        found = plans[alike] = _best_plan(state, options, cpu, memory, workload, memo=memo)
    return found


def _best_plan(
    state: NodeState,
    options: tuple[Allocation, ...],
    cpu: int,
    memory: int,
    workload: Workload,
    *,
    memo: FragmentationMemo | None,
) -> Plan | None:
    """The best of `options` (`plan` once the state is known)."""
    if not options:
        return None
    known: FragmentationMemo = {} if memo is None else memo
    before = remembered(state, workload, known)
    best: Plan | None = None
    for allocation in options:
        delta = remembered(state.after(allocation, cpu, memory), workload, known) - before
        if best is None or delta < best.delta:
            best = Plan(allocation, delta)
    return best
