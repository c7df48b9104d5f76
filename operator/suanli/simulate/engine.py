"""The `suanli` policy: the extender's own decider over the simulated cluster's state.

The replay asks exactly what the live extender asks for each pod (`Decider.decide` over every
node, with the workload learnt from the pods placed so far), so a replay and a live cluster place
alike, and the decider's cost follows the distinct node states rather than the nodes. Its answer
equals the reference `evaluate` over the whole cluster; a test checks that on full replays.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.scoring import (
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    NodeResult,
    PodDemand,
    ScoringConfig,
    Workload,
)
from suanli.scoring.device_plan import plan
from suanli.scoring.resources import CPU, MEMORY
from suanli.simulate.cluster import Request, SimCluster, SimNode
from suanli.simulate.policies import Placement
from suanli.state import Choice, Decider


@dataclass(frozen=True, slots=True)
class Pick:
    node: SimNode
    result: NodeResult


class SuanliPolicy:
    """Chooses as the extender does: the first of the decider's ranking."""

    name = "suanli"

    def __init__(
        self,
        cluster: SimCluster,
        catalog: Catalog,
        latency: LatencyMap,
        config: ScoringConfig = DEFAULT_CONFIG,
    ) -> None:
        self.cluster = cluster
        self.catalog = catalog
        self.latency = latency
        self.config = config
        self.decider = Decider(cluster.state)

    @property
    def evaluated(self) -> int:
        """Node states judged afresh (not from a memo), for the benchmark's curiosity."""
        return self.decider.evaluated

    def _best(self, demand: PodDemand, workload: Workload, *, detail: int) -> Choice:
        """The best node only, with `detail` full results."""
        return self.decider.decide(
            demand,
            catalog=self.catalog,
            latency=self.latency,
            config=self.config,
            workload=workload,
            keep=1,
            detail=detail,
            complete=False,
            explain_failure=False,  # a pod that fits nowhere is dropped, its reasons unread
        )

    def choose(
        self, demand: PodDemand, request: Request, workload: Workload = NO_WORKLOAD
    ) -> Pick | None:
        """The node (and its result, devices included) `evaluate` would rank first."""
        choice = self._best(demand, workload, detail=1)
        if not choice.ranked:
            return None
        best = choice.ranked[0]
        return Pick(self.cluster.by_name[best.node], best)

    def place(self, demand: PodDemand, request: Request, workload: Workload) -> Placement | None:
        """The node `choose` takes and its devices, without the full result (breakdown and
        explanation), which nobody reads in a replay: the devices are the node's plan, as in
        the full result."""
        choice = self._best(demand, workload, detail=0)
        if not choice.top:
            return None
        node = self.cluster.by_name[choice.top[0][0]]
        requests = demand.requests
        devices = demand.gpu
        if not devices.wants:
            return Placement(node, ())  # no devices to place
        # The decider's memos of fragmentation and plans per node state hold for this
        # workload's shapes; the chosen node's plan is among them.
        judge = self.decider.judge
        cpu, memory = requests.amount(CPU), requests.amount(MEMORY)
        if workload:
            found = judge.device_plan(
                judge.node_state_of(node.entry), devices, cpu, memory, workload
            )
        else:
            found = plan(node.snapshot, devices, cpu, memory, workload)
        return Placement(node, found.allocation if found is not None else ())
