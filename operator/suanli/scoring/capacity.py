"""What a node lacks right now for a pod: free cpu, memory, pod slots or devices (resolvable:
it could take the pod once something on it goes away)."""

from __future__ import annotations

from suanli.scoring import fmt
from suanli.scoring.context import Context
from suanli.scoring.devices import MILLI_PER_DEVICE, candidates, free_of
from suanli.scoring.resources import ACCELERATOR_RESOURCES, CPU, MEMORY, PODS
from suanli.scoring.snapshot import NodeSnapshot
from suanli.scoring.verdict import Failure, Outcome, Verdict


def resource_order(context: Context) -> list[str]:
    """Accelerators first (the reason users care about), then cpu, memory, pods, the rest."""
    requested = set(context.demand.requests)
    accelerators = sorted(requested & ACCELERATOR_RESOURCES)
    basics = [r for r in (CPU, MEMORY) if r in requested]
    rest = sorted(requested - ACCELERATOR_RESOURCES - {CPU, MEMORY, PODS})
    return [*accelerators, *basics, PODS, *rest]


def want_of(context: Context, resource: str) -> int:
    """How much of `resource` the pod needs free on a node (of pod slots, one)."""
    return 1 if resource == PODS else context.demand.requests.amount(resource)


def _lacking(context: Context, node: NodeSnapshot) -> tuple[str, int, int] | None:
    """The first resource without enough free for the pod: (resource, free, want)."""
    for resource in resource_order(context):
        want, free = want_of(context, resource), node.free(resource)
        if free < want:
            return resource, free, want
    return None


def _devices_fit(context: Context, node: NodeSnapshot) -> bool:
    """Device by device: whole requests need idle devices (a shared one is not free), a share
    needs one device with room for it (what `context.plan` would find, without weighing)."""
    request, accelerator = context.demand.gpu, node.facts.accelerator
    if not request.wants or accelerator is None:
        return True
    return bool(candidates(node.devices_used(), request))


def _free(context: Context, node: NodeSnapshot) -> Failure | None:
    lacking = _lacking(context, node)
    if lacking is None:
        return None
    resource, free, want = lacking
    return Failure(
        f"insufficient {resource} (free {fmt.amount(resource, max(free, 0))}, "
        f"want {fmt.amount(resource, want)})",
        f"insufficient {resource}",
    )


def _devices(context: Context, node: NodeSnapshot) -> Failure | None:
    if _devices_fit(context, node):
        return None
    request, accelerator = context.demand.gpu, node.facts.accelerator
    if accelerator is None:  # only nodes with devices can lack them
        return None
    used = node.devices_used()
    free = free_of(used)
    resource = accelerator.resource
    if request.whole:
        idle = sum(1 for f in free if f == MILLI_PER_DEVICE)
        return Failure(
            f"insufficient idle {resource} (idle {idle}, want {request.whole}; "
            f"{sum(1 for f in free if 0 < f < MILLI_PER_DEVICE)} shared)",
            f"insufficient idle {resource}",
        )
    return Failure(
        f"insufficient {resource} share (largest free {max(free, default=0)}m, "
        f"want {request.milli}m)",
        f"insufficient {resource} share",
    )


def capacity_wants(context: Context) -> tuple[tuple[str, int], ...]:
    """(resource, amount) the pod needs free on a node, as `check_capacity` reads them."""
    return tuple((resource, want_of(context, resource)) for resource in resource_order(context))


def fits_now(
    context: Context,
    node: NodeSnapshot,
    wants: tuple[tuple[str, int], ...] | None = None,
    *,
    devices: bool = True,
) -> bool:
    """`check_capacity` is None, without the reason (for callers that want only the best).
    `wants`: `capacity_wants(context)`, for a caller that asks for many nodes; `devices=False`:
    for a caller that knows already that the node's devices can take the pod's."""
    if wants is None:
        wants = capacity_wants(context)
    free = node.free
    if not all(free(resource) >= want for resource, want in wants):
        return False
    return not devices or _devices_fit(context, node)


def check_capacity(context: Context, node: NodeSnapshot) -> Verdict | None:
    """What the node lacks right now for the pod (usage only), or None."""
    failure = _free(context, node) or _devices(context, node)
    if failure is not None:
        return Verdict(node.name, Outcome.RESOLVABLE, failure.reason, failure.category)
    return None
