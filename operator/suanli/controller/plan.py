"""`suanli plan -f job.yaml`: what the operator would do with a job, asked of the live cluster
without changing it. One read of nodes, pods, ComputeJobs, ComputeQueues, namespaces and
PriorityClasses fills the same cache, queue board and cluster state the operator keeps; the
answer comes from the same quota book, gang plan and backfill (`suanli.state.backfill`).

Answers: does it fit now (nodes and score breakdown per pod), else the earliest start and the
jobs that must end first, else why it never fits; which quota (and budget) it would take; its
price per hour and its cost at its time limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suanli.api import ComputeJob
from suanli.api.queues import PRICE_RESOURCE
from suanli.configfiles import ScoringConfigFiles
from suanli.controller import edge
from suanli.controller.cache import JobCache, JobKey
from suanli.controller.facts import ClusterFacts
from suanli.controller.jobpods import JobPods
from suanli.controller.plan_answer import (
    FITS_LATER,
    FITS_NOW,
    NEVER_FITS,
    NO_ESTIMATE,
    NO_QUOTA,
    Plan,
    PodPlan,
)
from suanli.controller.queues import QueueBoard
from suanli.controller.quota_gate import QuotaGate
from suanli.controller.slots import PodSlot, slots
from suanli.controller.timekeeper import TimeKeeper
from suanli.keys import JOB_LABEL
from suanli.queueing import Charge
from suanli.scoring import DEFAULT_CONFIG, NodeResult, PodDemand
from suanli.scoring.context import build_context
from suanli.scoring.pricing import pod_price
from suanli.state import ClusterFeed
from suanli.state.backfill import estimates, never_fits
from suanli.state.earliest import Candidate, Estimate, Planner
from suanli.state.timeline import timeline


@dataclass(frozen=True)
class Cluster:
    """What one read of the cluster returned, as plain JSON objects."""

    nodes: Sequence[Mapping[str, Any]]
    pods: Sequence[Mapping[str, Any]]
    jobs: Sequence[Mapping[str, Any]]
    queues: Sequence[Mapping[str, Any]] = ()
    namespaces: Sequence[Mapping[str, Any]] = ()
    priority_classes: Sequence[Mapping[str, Any]] = ()


class PlanContext:
    """The operator's caches and state, filled from one read of the cluster."""

    def __init__(self, cluster: Cluster, files: ScoringConfigFiles) -> None:
        self.files = files
        self.feed = ClusterFeed(lambda: files.catalog)
        self.feed.replace_nodes(cluster.nodes)
        self.feed.replace_pods(cluster.pods)
        self.cache = JobCache()
        for body in cluster.jobs:
            self.cache.put_job(body)
        for pod in cluster.pods:
            job = ((pod.get("metadata") or {}).get("labels") or {}).get(JOB_LABEL)
            if job:
                self.cache.put_pod(pod, str(job))
        self.board = QueueBoard()
        for queue in cluster.queues:
            self.board.put_queue(queue)
        for namespace in cluster.namespaces:
            self.board.put_namespace(namespace)
        for priority in cluster.priority_classes:
            self.board.put_priority_class(priority)
        self.facts = ClusterFacts(self.feed, files, self.cache)
        # The operator's default edge tolerations: the plan cannot read a running operator's.
        self.pods = JobPods(files, self.feed, edge.DEFAULTS)
        self.time = TimeKeeper(
            cache=self.cache,
            board=self.board,
            planner=self.planner,
            demands=self.demands,
            promised=self.facts.reserved,
        )

    def planner(self) -> Planner:
        self.feed.prepare()
        return Planner(self.feed, self.files.catalog, self.files.latency, self.files.data_policy)

    def demands(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        missing: list[PodSlot],
        types: Sequence[str] | None = None,
    ) -> list[PodDemand] | None:
        """The pods as the operator makes them and the extender reads them (None when they
        cannot be scored)."""
        return self.pods.readable_demands(job, body, missing, list(types) if types else None)

    def price(self, demand: PodDemand, node: str) -> float:
        snapshot = self.feed.node(node)
        if snapshot is None:
            return 0.0
        files = self.files
        context = build_context(
            demand, [snapshot], files.catalog, files.latency, peers=(), config=DEFAULT_CONFIG
        )
        return float(pod_price(context, snapshot).per_hour)


def _quota(
    context: PlanContext, key: JobKey, body: Mapping[str, Any], job: ComputeJob, out: Plan
) -> bool:
    """Fill in the quota the job would take; False when it would wait for quota."""
    queue, problem = context.board.queue_of(job, key[0])
    out.queue = queue
    if queue is None:
        return True
    if problem is not None:
        out.quota_reason = f"{problem.reason}: {problem.message}"
        return False
    catalog = context.files.catalog
    request = context.board.request(body, job, queue, catalog)
    if request is None:
        out.quota_reason = "the job's pods cannot be read"
        return False
    gate = QuotaGate(
        board=context.board,
        jobs=context.cache.jobs,
        pods=context.cache.pods,
        patch_job_status=_nothing,
        patch_queue_status=_nothing,
        post_event=_nothing,
        enqueue=lambda _key: None,
        delete_pods=_nothing,
    )
    book, _, _ = gate.book_and_pending(catalog)
    prices = {t: known.price_per_hour for t in catalog.names if (known := catalog.get(t))}
    reasons = []
    for charge in book.options(request, catalog.names, prices):
        short = book.shortfall(charge)
        if short is None:
            _charged(out, charge)
            return True
        reasons.append(short.message)
    out.quota_reason = "; ".join(dict.fromkeys(reasons)) or f"queue {queue} has no quota for it"
    return False


def _charged(out: Plan, charge: Charge) -> None:
    out.quota = {r: round(a, 6) for r, a in charge.amounts if r != PRICE_RESOURCE}
    price = dict(charge.amounts).get(PRICE_RESOURCE)
    if price is not None:
        out.quota["budget " + PRICE_RESOURCE] = round(price, 4)
    out.accelerator_types = list(charge.accelerator_types)


async def _nothing(*_args: Any) -> None:
    return None


def _pods(
    context: PlanContext,
    demands: Sequence[PodDemand],
    plan: Mapping[str, str],
    results: Sequence[NodeResult],
) -> list[PodPlan]:
    by_node = {r.node: r for r in results}
    found = []
    for demand in demands:
        node = plan.get(demand.name)
        if node is None:
            continue
        result = by_node.get(node)
        found.append(
            PodPlan(
                demand.name,
                node,
                result.score if result else 0,
                result.breakdown.as_dict() if result and result.breakdown else {},
                round(context.price(demand, node), 4),
            )
        )
    return found


def plan_job(
    cluster: Cluster,
    body: Mapping[str, Any],
    files: ScoringConfigFiles,
    now: dt.datetime,
) -> Plan:
    """What the operator would do with the job `body` (validated) on `cluster` at `now`."""
    context = PlanContext(cluster, files)
    job = ComputeJob.model_validate(body)
    meta = body["metadata"]
    key: JobKey = (str(meta["namespace"]), str(meta["name"]))
    out = Plan(f"{key[0]}/{key[1]}", NO_ESTIMATE)
    limits = context.board.limits(job, key[0])
    out.time_limit, out.time_limit_source = limits.time_limit_text, limits.limit_source
    admitted = _quota(context, key, body, job, out)
    if limits.refusal is not None:
        out.verdict, out.reason = NO_QUOTA, limits.refusal
        return out
    demands = context.demands(job, body, slots(job, key[1]), out.accelerator_types or None)
    if demands is None:
        out.verdict, out.reason = NEVER_FITS, "the job's pods cannot be scored"
        return out
    gang = job.spec.gang
    candidate = Candidate(
        out.job,
        demands,
        gang.min_member if gang else len(demands),
        limits.time_limit,
        limits.planned,
    )
    planner = context.planner()
    estimate = _estimate(context, key, body, candidate, now=now, planner=planner)
    if estimate.start is not None:
        out.start, out.waits_for = estimate.start, list(estimate.waits_for)
        out.pods = _pods(context, demands, estimate.plan, estimate.results)
        out.verdict = FITS_NOW if estimate.start <= now else FITS_LATER
    else:
        why = never_fits(planner, candidate)
        out.verdict = NEVER_FITS if why is not None else NO_ESTIMATE
        out.reason = why or (
            "it fits only once jobs without a time limit end: "
            + ", ".join(
                j.job for j in context.time.running(now, expected=True)[0] if j.ends is None
            )
        )
    if not admitted:
        out.verdict, out.reason = NO_QUOTA, out.quota_reason
    if out.pods:
        out.price_per_hour = round(sum(p.price_per_hour for p in out.pods), 4)
        if limits.time_limit is not None:
            out.cost_at_limit = round(out.price_per_hour * limits.time_limit / 3600, 4)
    return out


def _estimate(
    context: PlanContext,
    key: JobKey,
    body: Mapping[str, Any],
    candidate: Candidate,
    *,
    now: dt.datetime,
    planner: Planner,
) -> Estimate:
    """Now, as the operator would admit it (backfill behind the jobs waiting ahead); else the
    earliest start after the jobs ahead, as estimates are made for waiting jobs."""
    admission = context.time.gate(key, body, candidate, now, lambda: planner.plan(candidate))
    if admission is not None and admission.admitted:
        return Estimate(
            candidate.job, now, admission.plan, (), admission.placed, results=admission.results
        )
    mine = context.time.order(key, body)
    ahead = [w.candidate for w in context.time.waiters() if w.order < mine and w.key != key]
    running, _ = context.time.running(now, expected=True)
    releases = timeline(planner.feed.state, running, now)
    holding = context.time.holdings(now, exclude=key)
    found = estimates(planner, [*ahead, candidate], releases, now, holding)
    estimate = found[candidate.job]
    if estimate.start is not None and estimate.start <= now:
        # Room now, but only by delaying a reservation ahead: the next moment instead.
        later = [r.at for r in releases if r.at > now]
        return Estimate(
            candidate.job,
            later[0] if later else None,
            estimate.plan,
            estimate.waits_for,
            estimate.placed,
            admission.reason if admission else "",
            estimate.results,
        )
    return estimate
