"""Which nodes can take the pod, and if not, why, in the two kinds kube-scheduler knows.

Unresolvable: the node can never take the pod (wrong accelerator, no RDMA, too far from the
data, not trusted with the data, too expensive, too small even when empty); preemption cannot
help, kube-scheduler reports it as UnschedulableAndUnresolvable. Resolvable: the node could take
the pod once something on it goes away (not enough free CPU, memory, pods or devices right now).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from suanli.scoring import fmt
from suanli.scoring.context import Context
from suanli.scoring.datapolicy import residency_refusal
from suanli.scoring.devices import MILLI_PER_DEVICE, candidates, free_of
from suanli.scoring.pricing import pod_price
from suanli.scoring.resources import ACCELERATOR_RESOURCES, CPU, MEMORY, PODS
from suanli.scoring.snapshot import NodeSnapshot
from suanli.scoring.taints import untolerated


class Outcome(StrEnum):
    FEASIBLE = "feasible"
    RESOLVABLE = "resolvable"
    UNRESOLVABLE = "unresolvable"


@dataclass(frozen=True, slots=True)
class Verdict:
    node: str
    outcome: Outcome
    reason: str = ""  # for this node: "latency to sh-edge-1 is 220 ms > 20 ms"
    category: str = ""  # the same, without node specifics, for aggregation

    @property
    def feasible(self) -> bool:
        return self.outcome is Outcome.FEASIBLE


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    category: str


_Check = Callable[[Context, NodeSnapshot], _Failure | None]


# --- hard requirements -----------------------------------------------------------------------


def _taints(context: Context, node: NodeSnapshot) -> _Failure | None:
    # kube-scheduler's TaintToleration reports this as unresolvable too: evicting pods never
    # removes a taint.
    taint = untolerated(node.facts.taints, context.demand.tolerations)
    if taint is None:
        return None
    return _Failure(f"taint {taint} not tolerated", f"untolerated taint {taint}")


def _accelerator_present(context: Context, node: NodeSnapshot) -> _Failure | None:
    demand, accelerator = context.demand, node.facts.accelerator
    if not demand.wants_accelerator:
        return None
    wanted = demand.accelerator_resources
    if accelerator is None:
        want = ", ".join(f"{demand.requests.amount(r)} {r}" for r in wanted)
        return _Failure(
            f"no accelerator (want {want})" if want else "no accelerator", ("no accelerator")
        )
    if wanted and accelerator.resource not in wanted:
        return _Failure(
            f"accelerator is {accelerator.resource}, want {', '.join(wanted)}",
            f"no {', '.join(wanted)}",
        )
    return None


def _accelerator_type(context: Context, node: NodeSnapshot) -> _Failure | None:
    accelerator, accepted = node.facts.accelerator, context.accepted
    if not accepted or accelerator is None:
        return None
    if accelerator.type is not None and accelerator.type.name in accepted:
        return None
    shown = accelerator.type_name
    if accelerator.type is None and accelerator.product:
        shown = f"unknown ({accelerator.product})"
    return _Failure(
        f"accelerator type {shown} not in {fmt.names(accepted)}",
        f"accelerator type not in {fmt.names(accepted)}",
    )


def _share_stack(context: Context, node: NodeSnapshot) -> _Failure | None:
    # A share pod's requests speak one stack's language (HAMi's gpumem, time-slicing's
    # gpu.shared, or none): elsewhere kube-scheduler could not fit them or no plugin would
    # honour the device chosen. Evicting pods never changes the stack.
    wanted, accelerator = context.demand.share_stack, node.facts.accelerator
    if wanted is None or accelerator is None or node.facts.share_stack is wanted:
        return None
    return _Failure(
        f"devices shared by {node.facts.share_stack}, pod written for {wanted}",
        f"share stack not {wanted}",
    )


def _accelerator_memory(context: Context, node: NodeSnapshot) -> _Failure | None:
    minimum = context.demand.spec.min_accelerator_memory_gib
    accelerator = node.facts.accelerator
    if minimum is None or accelerator is None:
        return None
    memory = accelerator.memory_gib
    if memory is not None and memory >= minimum * (1 - context.config.memory_tolerance):
        return None
    shown = "unknown" if memory is None else f"{fmt.number(memory)} GiB"
    return _Failure(
        f"accelerator memory {shown} < {fmt.number(minimum)} GiB",
        f"accelerator memory below {fmt.number(minimum)} GiB",
    )


def _interconnect(context: Context, node: NodeSnapshot) -> _Failure | None:
    want, have = context.demand.spec.interconnect, node.facts.interconnect
    if want is None or have == want:
        return None
    return _Failure(f"interconnect {have or 'none'}, want {want}", f"interconnect not {want}")


def _rdma(context: Context, node: NodeSnapshot) -> _Failure | None:
    if not context.demand.spec.rdma or node.facts.rdma:
        return None
    return _Failure("no RDMA", "no RDMA")


def _cpu_features(context: Context, node: NodeSnapshot) -> _Failure | None:
    missing = [f for f in context.demand.spec.cpu_features if f not in node.facts.cpu_features]
    if not missing:
        return None
    text = f"missing CPU features {fmt.names(missing)}"
    return _Failure(text, text)


def _tier(context: Context, node: NodeSnapshot) -> _Failure | None:
    tiers = context.demand.spec.tiers
    if not tiers or node.facts.tier in tiers:
        return None
    return _Failure(
        f"tier {node.facts.tier} not in {fmt.names(tiers)}", f"tier not in {fmt.names(tiers)}"
    )


def _data_class(context: Context, node: NodeSnapshot) -> _Failure | None:
    data = context.demand.spec.data
    refused = context.data_policy.refusal(data.classification, node.facts) if data else None
    return _Failure(*refused) if refused else None


def _residency(context: Context, node: NodeSnapshot) -> _Failure | None:
    data = context.demand.spec.data
    refused = residency_refusal(data.residency, node.facts) if data else None
    return _Failure(*refused) if refused else None


def _zone(context: Context, node: NodeSnapshot) -> _Failure | None:
    zones = context.demand.spec.zones
    if not zones or node.facts.zone in zones:
        return None
    return _Failure(
        f"zone {node.facts.zone or 'unknown'} not in {fmt.names(zones)}",
        f"zone not in {fmt.names(zones)}",
    )


def _latency(context: Context, node: NodeSnapshot) -> _Failure | None:
    spec = context.demand.spec
    bound = spec.max_latency_ms
    if bound is None:
        return None
    sites = spec.sites[0] if len(spec.sites) == 1 else fmt.names(sorted(spec.sites))
    plural = "site" if len(spec.sites) == 1 else "sites"
    nearest = context.latency.nearest(node.facts.places, spec.sites)
    if nearest is None:
        return _Failure(f"latency to {sites} unknown", f"latency to {plural} {sites} unknown")
    if nearest.ms <= bound:
        return None
    return _Failure(
        f"latency to {nearest.site} is {fmt.number(nearest.ms)} ms > {fmt.number(bound)} ms",
        f"latency to {plural} {sites} above {fmt.number(bound)} ms",
    )


def _price(context: Context, node: NodeSnapshot) -> _Failure | None:
    ceiling = context.demand.spec.max_price_per_hour
    if ceiling is None:
        return None
    price = pod_price(context, node)
    if price.per_hour <= ceiling:
        return None
    billing = context.demand.spec.billing
    return _Failure(
        f"price {fmt.money(price.per_hour)} USD/h ({billing}) for {price.basis} "
        f"> {fmt.money(ceiling)} USD/h",
        f"price above {fmt.money(ceiling)} USD/h",
    )


def _same_domain(context: Context, node: NodeSnapshot) -> _Failure | None:
    kind = context.demand.spec.same_domain
    # The first pod of a job chooses the domain; only later ones are bound by it.
    if kind is None or not context.peer_domains:
        return None
    value = node.facts.domain(kind)
    if value in context.peer_domains:
        return None
    peers = fmt.names(context.peer_domains)
    here = f"{kind} {value}" if value is not None else f"no {kind} label"
    return _Failure(
        f"{here}; job peers are in {kind} {peers}", f"not in the same {kind} as job peers"
    )


def _resource_order(context: Context) -> list[str]:
    """Accelerators first (the reason users care about), then cpu, memory, pods, the rest."""
    requested = set(context.demand.requests)
    accelerators = sorted(requested & ACCELERATOR_RESOURCES)
    basics = [r for r in (CPU, MEMORY) if r in requested]
    rest = sorted(requested - ACCELERATOR_RESOURCES - {CPU, MEMORY, PODS})
    return [*accelerators, *basics, PODS, *rest]


def _want(context: Context, resource: str) -> int:
    return 1 if resource == PODS else context.demand.requests.amount(resource)


def _allocatable(context: Context, node: NodeSnapshot) -> _Failure | None:
    for resource in _resource_order(context):
        want, have = _want(context, resource), node.facts.allocatable.amount(resource)
        if have < want:
            return _Failure(
                f"{resource} allocatable {fmt.amount(resource, have)} "
                f"< {fmt.amount(resource, want)}",
                f"too little allocatable {resource}",
            )
    accelerator = node.facts.accelerator
    if context.demand.gpu_milli and accelerator is not None and accelerator.count < 1:
        return _Failure(
            f"{accelerator.resource} allocatable 0 < 1 (for a device share)",
            f"too little allocatable {accelerator.resource}",
        )
    return None


_HARD: tuple[_Check, ...] = (
    _accelerator_present,
    _accelerator_type,
    _share_stack,
    _accelerator_memory,
    _interconnect,
    _rdma,
    _cpu_features,
    _tier,
    _data_class,
    _residency,
    _taints,
    _zone,
    _latency,
    _price,
    _same_domain,
    _allocatable,
)


# --- capacity right now ----------------------------------------------------------------------


def _lacking(context: Context, node: NodeSnapshot) -> tuple[str, int, int] | None:
    """The first resource without enough free for the pod: (resource, free, want)."""
    for resource in _resource_order(context):
        want, free = _want(context, resource), node.free(resource)
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


def _free(context: Context, node: NodeSnapshot) -> _Failure | None:
    lacking = _lacking(context, node)
    if lacking is None:
        return None
    resource, free, want = lacking
    return _Failure(
        f"insufficient {resource} (free {fmt.amount(resource, max(free, 0))}, "
        f"want {fmt.amount(resource, want)})",
        f"insufficient {resource}",
    )


def _devices(context: Context, node: NodeSnapshot) -> _Failure | None:
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
        return _Failure(
            f"insufficient idle {resource} (idle {idle}, want {request.whole}; "
            f"{sum(1 for f in free if 0 < f < MILLI_PER_DEVICE)} shared)",
            f"insufficient idle {resource}",
        )
    return _Failure(
        f"insufficient {resource} share (largest free {max(free, default=0)}m, "
        f"want {request.milli}m)",
        f"insufficient {resource} share",
    )


def check_hard(context: Context, node: NodeSnapshot) -> Verdict | None:
    """The first failed hard requirement (facts and peers only, never usage), or None."""
    for check in _HARD:
        failure = check(context, node)
        if failure is not None:
            return Verdict(node.name, Outcome.UNRESOLVABLE, failure.reason, failure.category)
    return None


def capacity_wants(context: Context) -> tuple[tuple[str, int], ...]:
    """(resource, amount) the pod needs free on a node, as `check_capacity` reads them."""
    return tuple((resource, _want(context, resource)) for resource in _resource_order(context))


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


def check_node(context: Context, node: NodeSnapshot) -> Verdict:
    """The first failed requirement decides; hard ones are checked before capacity."""
    return (
        check_hard(context, node)
        or check_capacity(context, node)
        or Verdict(node.name, Outcome.FEASIBLE)
    )


def aggregate_reasons(verdicts: Iterable[Verdict]) -> str:
    """`212 nodes: accelerator type not in [H100, A100]; 4 nodes: insufficient nvidia.com/gpu`:
    most frequent first, ties alphabetically, so the same cluster gives the same message."""
    return format_reason_counts(Counter(v.category or v.reason for v in verdicts if not v.feasible))


def format_reason_counts(counts: Mapping[str, int]) -> str:
    """The message of `aggregate_reasons` from counts of nodes per reason."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold(), item[0]))
    return "; ".join(
        f"{count} {'node' if count == 1 else 'nodes'}: {category}" for category, count in ordered
    )
