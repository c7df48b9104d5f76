"""The packing part of a node's total for a pod kind, remembered per usage state: the change of
expected fragmentation its device plan makes (with a workload) or the packing signal (without
one), and what it is worked out from (the node states, their fragmentation and plans).

The fragmentation and plans hold for one workload's shapes (`forget_shapes` when they change);
the node states while the state's numbering does (`forget_node_states`).
"""

from __future__ import annotations

from suanli.scoring import NodeState, Workload, node_state
from suanli.scoring.context import Context
from suanli.scoring.device_plan import Plan, PlanKey, plan, planned, planned_alike
from suanli.scoring.devices import GpuRequest
from suanli.scoring.fragmentation import FragmentationMemo, remembered
from suanli.scoring.resources import CPU, MEMORY
from suanli.scoring.scorers.packing import packing_value
from suanli.scoring.scorers.packing import score as packing_score
from suanli.state.entry import NodeEntry
from suanli.state.kept import ClassPart


class UsageMemo:
    """The usage part of the packing signal per pod kind and usage state, and the memos per node
    state it is worked out from."""

    __slots__ = ("_usage", "before", "fragmentation", "node_states", "plans", "usage_sized")

    def __init__(self) -> None:
        # Per kind, then per usage state id: one small dict read per state in the hot loops,
        # no key tuple built per lookup.
        self._usage: dict[int, dict[int, float]] = {}  # pod kind -> state -> usage part
        self.usage_sized = 0  # states remembered in _usage
        # Expected fragmentation per node state, for the workload's shapes: shared with each
        # decision's context, and the base of the packing bound.
        self.fragmentation: FragmentationMemo = {}
        self.before: dict[int, float] = {}  # the same, per usage state id
        # Device plans per node state and request, for the workload's shapes (shared likewise).
        self.plans: dict[PlanKey, Plan | None] = {}
        # What fragmentation reads of a usage state (its free devices, cpu, memory, pod slots).
        self.node_states: dict[int, NodeState] = {}

    def forget_usage(self) -> None:
        """The usage parts (kind ids start over)."""
        self._usage.clear()
        self.usage_sized = 0

    def forget_shapes(self) -> None:
        """What a workload's shapes settle: the usage parts, fragmentation and plans."""
        self.forget_usage()
        self._forget_plans()

    def forget_node_states(self) -> None:
        """Everything kept per node state (state ids start over)."""
        self.node_states.clear()
        self._forget_plans()

    def _forget_plans(self) -> None:
        self.fragmentation.clear()
        self.plans.clear()
        self.before.clear()

    def states_kept(self) -> int:
        """The most entries of a memo per node state."""
        return max(len(self.fragmentation), len(self.before), len(self.plans))

    def usage_of(self, kind: int) -> dict[int, float]:
        """State -> the usage part of the packing signal, as far as judged, for one pod kind."""
        known = self._usage.get(kind)
        if known is None:
            known = self._usage[kind] = {}
        return known

    def fresh_usage(self, context: Context, entry: NodeEntry, known: dict[int, float]) -> float:
        """The usage part of the packing signal (the fragmentation change with a workload,
        the whole signal without one), remembered in `known` for the node's usage state."""
        workload = context.workload
        if workload:
            # `fragmentation_change`, with the node state read once per usage state (for pods
            # without devices too: those the plan cannot settle from cpu and memory alone would
            # read it afresh per pod kind, and most states are read for their order already).
            # Planned with the judge's memos, which are the context's (`Decider.decide`),
            # without the context's memo per node name: the usage is kept per state here.
            demand = context.demand
            request, requests = demand.gpu, demand.requests
            cpu, memory = requests.amount(CPU), requests.amount(MEMORY)
            state = self.node_state_of(entry)
            if request.wants:  # `plan` goes straight to the state's plan
                # Kept per state by the caller (`known`): the plans memo need not keep it per
                # state and request too, which no other reader would ask for.
                found = planned_alike(
                    state,
                    request.whole,
                    request.milli,
                    cpu,
                    memory,
                    workload=workload,
                    memo=self.fragmentation,
                    plans=self.plans,
                )
            else:
                found = plan(
                    entry.snapshot(),
                    request,
                    cpu,
                    memory,
                    workload,
                    memo=self.fragmentation,
                    plans=self.plans,
                    state=state,
                )
            usage = found.delta if found is not None else 0.0
        else:
            usage = packing_score(context, entry.snapshot()).value
        known[entry.state] = usage
        self.usage_sized += 1
        return usage

    def device_plan(
        self, state: NodeState, request: GpuRequest, cpu: int, memory: int, workload: Workload
    ) -> Plan | None:
        """`plan` of a request for devices on a node state, with these memos (which hold for
        `workload`'s shapes)."""
        return planned(
            state,
            request.whole,
            request.milli,
            cpu,
            memory,
            workload=workload,
            memo=self.fragmentation,
            plans=self.plans,
        )

    def packing(self, context: Context, entry: NodeEntry, kind: int, part: ClassPart) -> float:
        """The packing signal on the node: its usage part remembered per usage state."""
        known = self.usage_of(kind)
        usage = known.get(entry.state)
        if usage is None:
            usage = self.fresh_usage(context, entry, known)
        if not context.workload:
            return usage
        return packing_value(usage, part.reserved, context.config)

    def packing_at_most(self, context: Context, entry: NodeEntry, part: ClassPart) -> float:
        """An upper bound of the packing signal on the node: no placement removes more
        fragmentation than the node has or than the pod fills (min(F, c)); at most 1 without
        a workload."""
        if not context.workload:
            return 1.0
        before = self.before.get(entry.state)
        if before is None:
            before = self.fresh_before(context, entry)
        absorbed = min(before, float(context.demand.gpu.total_milli))
        return packing_value(-absorbed, part.reserved, context.config)

    def node_state_of(self, entry: NodeEntry) -> NodeState:
        """What fragmentation reads of the node's usage state, remembered per usage state."""
        found = self.node_states.get(entry.state)
        if found is None:
            found = self.node_states[entry.state] = node_state(entry.snapshot())
        return found

    def fresh_before(self, context: Context, entry: NodeEntry) -> float:
        """The node's expected fragmentation now, remembered per usage state."""
        state = self.node_state_of(entry)
        found = remembered(state, context.workload, self.fragmentation)
        self.before[entry.state] = found
        return found
