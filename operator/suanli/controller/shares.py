"""How a task's share of one device is written onto its pods, before anyone knows the node.

Pure. A pod's resources are fixed when it is created, yet the resources a share needs depend on
the node's sharing stack (`suanli.scoring.sharing`). The operator therefore picks one stack per
task from the nodes it knows: among the nodes of an accepted type with enough device memory,
the most isolating stack any of them runs (HAMi, then time-slicing, then Suanli's own). The
pod then speaks that stack's language, and the extender only offers it nodes of that stack.
The sizes follow the smallest device of that stack the task accepts, so the share never asks
a device for more memory than it has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from suanli.api.models import Accelerators
from suanli.scoring import Catalog
from suanli.scoring.devices import MILLI_PER_DEVICE
from suanli.scoring.facts import NodeFacts
from suanli.scoring.sharing import PREFERENCE, ShareStack

_MIB_PER_GIB = 1024
# Device memory labels give usable memory, a few percent below the box (as the filter allows).
_MEMORY_TOLERANCE = 0.07


@dataclass(frozen=True, slots=True)
class SharePool:
    """Nodes alike for share planning: canonical type, stack, device memory in GiB."""

    type: str
    stack: ShareStack
    memory_gib: float | None


@dataclass(frozen=True, slots=True)
class SharePlan:
    """What a share pod carries: its stack, milli-devices for Suanli's accounting, and the
    memory (MiB) and compute (percent of the device) HAMi enforces."""

    stack: ShareStack
    milli: int
    memory_mib: int
    cores: int


def share_pools(nodes: Iterable[NodeFacts]) -> frozenset[SharePool]:
    """The distinct pools of typed accelerator nodes."""
    return frozenset(
        SharePool(n.accelerator.type.name, n.share_stack, n.accelerator.memory_gib)
        for n in nodes
        if n.accelerator is not None and n.accelerator.type is not None
    )


def _catalog_pools(accepted: Sequence[str], catalog: Catalog) -> list[SharePool]:
    """Before any node is known: the accepted types' catalog memory, Suanli's own stack."""
    names = accepted or catalog.names
    found = [catalog.get(name) for name in names]
    return [SharePool(t.name, ShareStack.SUANLI, t.memory_gib) for t in found if t is not None]


def plan_share(
    accelerators: Accelerators,
    accepted: Sequence[str],
    catalog: Catalog,
    pools: Iterable[SharePool] = (),
) -> SharePlan:
    """The plan for a task whose accelerators ask for a share (`share` or `memoryGiB`)."""
    canonical = [known.name for name in accepted if (known := catalog.get(name)) is not None]
    need = accelerators.memory_gib or accelerators.min_memory_gib or 0.0
    floor = need * (1 - _MEMORY_TOLERANCE)

    def fitting(candidates: Iterable[SharePool]) -> list[SharePool]:
        return [
            p
            for p in candidates
            if (not canonical or p.type in canonical) and (p.memory_gib or 0.0) >= floor
        ]

    usable = fitting(pools) or fitting(_catalog_pools(canonical, catalog))
    stack = next((s for s in PREFERENCE if any(p.stack is s for p in usable)), ShareStack.SUANLI)
    memories = [p.memory_gib for p in usable if p.stack is stack and p.memory_gib]
    device_mib = int(min(memories) * _MIB_PER_GIB) if memories else 0
    if accelerators.memory_gib is not None:
        memory_mib = math.ceil(accelerators.memory_gib * _MIB_PER_GIB)
        if device_mib:
            memory_mib = min(memory_mib, device_mib)
            milli = math.ceil(memory_mib * MILLI_PER_DEVICE / device_mib)
        else:
            milli = MILLI_PER_DEVICE  # no device memory known: hold the device
    else:
        milli = accelerators.share_milli or MILLI_PER_DEVICE
        memory_mib = device_mib * milli // MILLI_PER_DEVICE
    milli = max(1, min(MILLI_PER_DEVICE, milli))
    cores = max(1, math.ceil(milli * 100 / MILLI_PER_DEVICE))
    return SharePlan(stack=stack, milli=milli, memory_mib=memory_mib, cores=cores)
