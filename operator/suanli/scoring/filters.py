"""Which nodes can take the pod, and if not, why, in the two kinds kube-scheduler knows.

Unresolvable: the node can never take the pod (wrong accelerator, no RDMA, too far from the
data, not trusted with the data, too expensive, too small even when empty); preemption cannot
help, kube-scheduler reports it as UnschedulableAndUnresolvable. Resolvable: the node could take
the pod once something on it goes away (not enough free CPU, memory, pods or devices right now):
those checks are `suanli.scoring.capacity`'s. Here: the hard requirements, and a node's verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from suanli.scoring import fmt
from suanli.scoring.capacity import check_capacity, resource_order, want_of
from suanli.scoring.context import Context
from suanli.scoring.datapolicy import residency_refusal
from suanli.scoring.pricing import pod_price
from suanli.scoring.snapshot import NodeSnapshot
from suanli.scoring.taints import untolerated
from suanli.scoring.verdict import Failure, Outcome, Verdict

_Check = Callable[[Context, NodeSnapshot], Failure | None]


# --- hard requirements -----------------------------------------------------------------------


def _taints(context: Context, node: NodeSnapshot) -> Failure | None:
    # kube-scheduler's TaintToleration reports this as unresolvable too: evicting pods never
    # removes a taint.
    taint = untolerated(node.facts.taints, context.demand.tolerations)
    if taint is None:
        return None
    return Failure(f"taint {taint} not tolerated", f"untolerated taint {taint}")


def _accelerator_present(context: Context, node: NodeSnapshot) -> Failure | None:
    demand, accelerator = context.demand, node.facts.accelerator
    if not demand.wants_accelerator:
        return None
    wanted = demand.accelerator_resources
    if accelerator is None:
        want = ", ".join(f"{demand.requests.amount(r)} {r}" for r in wanted)
        return Failure(
            f"no accelerator (want {want})" if want else "no accelerator", ("no accelerator")
        )
    if wanted and accelerator.resource not in wanted:
        return Failure(
            f"accelerator is {accelerator.resource}, want {', '.join(wanted)}",
            f"no {', '.join(wanted)}",
        )
    return None


def _accelerator_type(context: Context, node: NodeSnapshot) -> Failure | None:
    accelerator, accepted = node.facts.accelerator, context.accepted
    if not accepted or accelerator is None:
        return None
    if accelerator.type is not None and accelerator.type.name in accepted:
        return None
    shown = accelerator.type_name
    if accelerator.type is None and accelerator.product:
        shown = f"unknown ({accelerator.product})"
    return Failure(
        f"accelerator type {shown} not in {fmt.names(accepted)}",
        f"accelerator type not in {fmt.names(accepted)}",
    )


def _share_stack(context: Context, node: NodeSnapshot) -> Failure | None:
    # A share pod's requests speak one stack's language (HAMi's gpumem, time-slicing's
    # gpu.shared, or none): elsewhere kube-scheduler could not fit them or no plugin would
    # honour the device chosen. Evicting pods never changes the stack.
    wanted, accelerator = context.demand.share_stack, node.facts.accelerator
    if wanted is None or accelerator is None or node.facts.share_stack is wanted:
        return None
    return Failure(
        f"devices shared by {node.facts.share_stack}, pod written for {wanted}",
        f"share stack not {wanted}",
    )


def _accelerator_memory(context: Context, node: NodeSnapshot) -> Failure | None:
    minimum = context.demand.spec.min_accelerator_memory_gib
    accelerator = node.facts.accelerator
    if minimum is None or accelerator is None:
        return None
    memory = accelerator.memory_gib
    if memory is not None and memory >= minimum * (1 - context.config.memory_tolerance):
        return None
    shown = "unknown" if memory is None else f"{fmt.number(memory)} GiB"
    return Failure(
        f"accelerator memory {shown} < {fmt.number(minimum)} GiB",
        f"accelerator memory below {fmt.number(minimum)} GiB",
    )


def _interconnect(context: Context, node: NodeSnapshot) -> Failure | None:
    want, have = context.demand.spec.interconnect, node.facts.interconnect
    if want is None or have == want:
        return None
    return Failure(f"interconnect {have or 'none'}, want {want}", f"interconnect not {want}")


def _rdma(context: Context, node: NodeSnapshot) -> Failure | None:
    if not context.demand.spec.rdma or node.facts.rdma:
        return None
    return Failure("no RDMA", "no RDMA")


def _cpu_features(context: Context, node: NodeSnapshot) -> Failure | None:
    missing = [f for f in context.demand.spec.cpu_features if f not in node.facts.cpu_features]
    if not missing:
        return None
    text = f"missing CPU features {fmt.names(missing)}"
    return Failure(text, text)


def _tier(context: Context, node: NodeSnapshot) -> Failure | None:
    tiers = context.demand.spec.tiers
    if not tiers or node.facts.tier in tiers:
        return None
    return Failure(
        f"tier {node.facts.tier} not in {fmt.names(tiers)}", f"tier not in {fmt.names(tiers)}"
    )


def _data_class(context: Context, node: NodeSnapshot) -> Failure | None:
    data = context.demand.spec.data
    refused = context.data_policy.refusal(data.classification, node.facts) if data else None
    return Failure(*refused) if refused else None


def _residency(context: Context, node: NodeSnapshot) -> Failure | None:
    data = context.demand.spec.data
    refused = residency_refusal(data.residency, node.facts) if data else None
    return Failure(*refused) if refused else None


def _zone(context: Context, node: NodeSnapshot) -> Failure | None:
    zones = context.demand.spec.zones
    if not zones or node.facts.zone in zones:
        return None
    return Failure(
        f"zone {node.facts.zone or 'unknown'} not in {fmt.names(zones)}",
        f"zone not in {fmt.names(zones)}",
    )


def _latency(context: Context, node: NodeSnapshot) -> Failure | None:
    spec = context.demand.spec
    bound = spec.max_latency_ms
    if bound is None:
        return None
    sites = spec.sites[0] if len(spec.sites) == 1 else fmt.names(sorted(spec.sites))
    plural = "site" if len(spec.sites) == 1 else "sites"
    nearest = context.latency.nearest(node.facts.places, spec.sites)
    if nearest is None:
        return Failure(f"latency to {sites} unknown", f"latency to {plural} {sites} unknown")
    if nearest.ms <= bound:
        return None
    return Failure(
        f"latency to {nearest.site} is {fmt.number(nearest.ms)} ms > {fmt.number(bound)} ms",
        f"latency to {plural} {sites} above {fmt.number(bound)} ms",
    )


def _price(context: Context, node: NodeSnapshot) -> Failure | None:
    ceiling = context.demand.spec.max_price_per_hour
    if ceiling is None:
        return None
    price = pod_price(context, node)
    if price.per_hour <= ceiling:
        return None
    billing = context.demand.spec.billing
    return Failure(
        f"price {fmt.money(price.per_hour)} USD/h ({billing}) for {price.basis} "
        f"> {fmt.money(ceiling)} USD/h",
        f"price above {fmt.money(ceiling)} USD/h",
    )


def _same_domain(context: Context, node: NodeSnapshot) -> Failure | None:
    kind = context.demand.spec.same_domain
    # The first pod of a job chooses the domain; only later ones are bound by it.
    if kind is None or not context.peer_domains:
        return None
    value = node.facts.domain(kind)
    if value in context.peer_domains:
        return None
    peers = fmt.names(context.peer_domains)
    here = f"{kind} {value}" if value is not None else f"no {kind} label"
    return Failure(
        f"{here}; job peers are in {kind} {peers}", f"not in the same {kind} as job peers"
    )


def _allocatable(context: Context, node: NodeSnapshot) -> Failure | None:
    for resource in resource_order(context):
        want, have = want_of(context, resource), node.facts.allocatable.amount(resource)
        if have < want:
            return Failure(
                f"{resource} allocatable {fmt.amount(resource, have)} "
                f"< {fmt.amount(resource, want)}",
                f"too little allocatable {resource}",
            )
    accelerator = node.facts.accelerator
    if context.demand.gpu_milli and accelerator is not None and accelerator.count < 1:
        return Failure(
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


def check_hard(context: Context, node: NodeSnapshot) -> Verdict | None:
    """The first failed hard requirement (facts and peers only, never usage), or None."""
    for check in _HARD:
        failure = check(context, node)
        if failure is not None:
            return Verdict(node.name, Outcome.UNRESOLVABLE, failure.reason, failure.category)
    return None


def check_node(context: Context, node: NodeSnapshot) -> Verdict:
    """The first failed requirement decides; hard ones are checked before capacity."""
    return (
        check_hard(context, node)
        or check_capacity(context, node)
        or Verdict(node.name, Outcome.FEASIBLE)
    )
