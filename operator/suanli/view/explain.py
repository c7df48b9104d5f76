"""Where each pod of a job went and why, or why it waits: a job's explanation for people.

Placed pods carry the extender's own explanation (`suanli.dev/placement`: score, breakdown,
runners-up), which is read back rather than recomputed: it is what was decided then. For pods
still waiting, the one decider is asked now over the state, and its reasons are grouped by node
kind (type x tier x site), so "46 nodes: wrong type" becomes which kinds of nodes refuse and why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.keys import PLACEMENT_ANNOTATION
from suanli.scoring import parse_pod
from suanli.scoring.catalog import Catalog
from suanli.scoring.datapolicy import BASELINE_POLICY, DataPolicy
from suanli.scoring.errors import ScoringInputError
from suanli.scoring.latency import LatencyMap
from suanli.state import ClusterFeed
from suanli.view.fleet import NodeKind, node_kind

_TERMINAL = frozenset({"Succeeded", "Failed"})
FITS_NOW = "fits now (waiting for the scheduler)"


@dataclass(frozen=True, slots=True)
class PodPlacement:
    pod: str
    node: str
    phase: str
    score: int | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    runners_up: tuple[tuple[str, int], ...] = ()
    feasible: int | None = None
    candidates: int | None = None
    devices: str | None = None


@dataclass(frozen=True, slots=True)
class WaitingGroup:
    """Nodes of one kind that refuse the job's waiting pods for one reason."""

    kind: NodeKind
    reason: str
    nodes: int


@dataclass(frozen=True, slots=True)
class Blocker:
    """A condition that holds the job back (quota not reserved, budget spent, ...)."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class JobExplanation:
    namespace: str
    name: str
    phase: str
    queue: str | None
    queue_position: int | None
    price_per_hour: float | None
    cost_accrued: float | None
    estimated_start: str | None
    unschedulable: str | None
    blockers: tuple[Blocker, ...]
    placements: tuple[PodPlacement, ...]
    waiting_pods: tuple[str, ...]
    waiting: tuple[WaitingGroup, ...]


def _placement(pod: Mapping[str, Any]) -> PodPlacement:
    metadata = pod.get("metadata") or {}
    raw = (metadata.get("annotations") or {}).get(PLACEMENT_ANNOTATION)
    try:
        told: dict[str, Any] = json.loads(raw) if raw else {}
    except ValueError:
        told = {}  # an annotation someone else wrote badly: the node is still known
    return PodPlacement(
        pod=str(metadata.get("name")),
        node=str((pod.get("spec") or {}).get("nodeName")),
        phase=str((pod.get("status") or {}).get("phase") or "Pending"),
        score=told.get("score"),
        breakdown={str(k): float(v) for k, v in (told.get("breakdown") or {}).items()},
        runners_up=tuple((str(r["node"]), int(r["score"])) for r in told.get("runnersUp") or []),
        feasible=told.get("feasibleNodes"),
        candidates=told.get("candidateNodes"),
        devices=told.get("devices"),
    )


@dataclass(frozen=True, slots=True)
class Judging:
    """What the decider needs to judge waiting pods: the state and the scoring files."""

    feed: ClusterFeed
    catalog: Catalog
    latency: LatencyMap
    data_policy: DataPolicy = BASELINE_POLICY


def waiting_groups(pods: Sequence[Mapping[str, Any]], judging: Judging) -> list[WaitingGroup]:
    """Each waiting pod judged against every node now; (kind, reason) -> nodes, summed over
    the pods' distinct demands (the replicas of a task ask alike, so each is judged once)."""
    counts: Counter[tuple[NodeKind, str]] = Counter()
    seen: set[str] = set()
    state = judging.feed.state
    for pod in pods:
        try:
            demand = parse_pod(pod)
        except ScoringInputError as error:
            counts[NodeKind("-", "-", "-"), f"pod cannot be read: {error}"] += 1
            continue
        task = repr((demand.spec, demand.requests, demand.gpu_milli, demand.tolerations))
        if task in seen:
            continue
        seen.add(task)
        choice = judging.feed.decider.decide(
            demand,
            catalog=judging.catalog,
            latency=judging.latency,
            data_policy=judging.data_policy,
            keep=0,
        )
        with state.lock:
            refused = {**choice.failed, **choice.unresolvable}
            for name, entry in state.nodes.items():
                reason = refused.get(name, FITS_NOW)
                counts[node_kind(entry.facts), reason] += 1
    return [
        WaitingGroup(kind, reason, nodes)
        for (kind, reason), nodes in sorted(counts.items(), key=lambda i: (i[0][0], -i[1]))
    ]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def explain_job(
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], judging: Judging | None = None
) -> JobExplanation:
    """The job (a ComputeJob object) and its pods; with `judging`, why waiting pods wait."""
    metadata = job.get("metadata") or {}
    status = job.get("status") or {}
    bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
    waiting = [
        p
        for p in pods
        if not (p.get("spec") or {}).get("nodeName")
        and (p.get("status") or {}).get("phase") not in _TERMINAL
        and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]
    blockers = tuple(
        Blocker(str(c.get("type")), str(c.get("reason") or ""), str(c.get("message") or ""))
        for c in status.get("conditions") or []
        if c.get("status") == "False" and c.get("message")
    )
    position = status.get("queuePosition")
    return JobExplanation(
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata.get("name")),
        phase=str(status.get("phase") or "Pending"),
        queue=status.get("queue") or (job.get("spec") or {}).get("queue"),
        queue_position=int(position) if isinstance(position, int) else None,
        price_per_hour=_number(status.get("pricePerHour")),
        cost_accrued=_number(status.get("costAccrued")),
        # Written only by a scheduler version that predicts starts: shown when present.
        estimated_start=status.get("estimatedStartTime"),
        unschedulable=status.get("unschedulable") or None,
        blockers=blockers,
        placements=tuple(sorted((_placement(p) for p in bound), key=lambda p: p.pod)),
        waiting_pods=tuple(sorted(str((p.get("metadata") or {}).get("name")) for p in waiting)),
        waiting=tuple(waiting_groups(waiting, judging)) if waiting and judging else (),
    )
