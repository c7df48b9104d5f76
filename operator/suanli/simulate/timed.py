"""`suanli simulate timed`: jobs that arrive, wait, run for their duration and depart, under
today's greedy admission or EASY backfill, on the one cluster state. Pure (simulated time).

Each job is a gang of `pods` x `gpus` whole devices with an arrival time, a declared time
limit and an actual duration (at most the limit). A scheduling pass runs at every arrival and
departure:

- **greedy**: waiting jobs in arrival order, each started when its gang fits now (what the
  operator does without backfill: a big gang waits while small ones take the room it needs);
- **backfill**: the same, but the first job that does not fit gets a reservation and the jobs
  behind it start only when they do not delay it (`suanli.state.backfill`, the operator's rule).

A job that cannot start when it arrives gets a start estimate then (`earliest_start` behind
the estimates of the jobs already waiting, from the time limits), compared with when it starts.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.keys import JOB_LABEL
from suanli.scoring import BASELINE_POLICY, Catalog, LatencyMap, PodDemand, parse_pod
from suanli.simulate.trace import NodeRow, PodRow, node_object, pod_object
from suanli.state import ClusterFeed
from suanli.state.backfill import admit_behind, reservation
from suanli.state.earliest import Candidate, Holding, Planner, earliest_start, ends_at
from suanli.state.timeline import RunningJob, timeline

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TIMED_POLICIES = ("greedy", "backfill")
GPUS_PER_NODE = 8


@dataclass(frozen=True)
class TimedJob:
    name: str
    arrival: float  # seconds from the start
    pods: int
    gpus: int  # per pod
    duration: float  # seconds it runs
    limit: float  # its declared time limit (>= duration)

    @property
    def size(self) -> int:
        return self.pods * self.gpus


def generate_jobs(count: int, nodes: int, seed: int, load: float = 0.95) -> list[TimedJob]:
    """A stream of mostly 1-GPU jobs with some 8-GPU jobs and a few whole-node gangs, arriving
    at random so that the GPU-time asked for is `load` times the fleet's."""
    rng = random.Random(seed)
    shapes = ((1, 1, 0.80), (1, 8, 0.12), (4, 8, 0.08))
    drawn = []
    for index in range(count):
        pods, gpus, _ = rng.choices(shapes, weights=[w for _, _, w in shapes])[0]
        duration = float(rng.randint(5, 60) * 60)
        limit = math.ceil(duration * rng.uniform(1.0, 2.0) / 60) * 60.0
        drawn.append((index, pods, gpus, duration, limit))
    work = sum(p * g * d for _, p, g, d, _ in drawn)
    span = work / (nodes * GPUS_PER_NODE * load)
    gaps = [rng.expovariate(1.0) for _ in drawn]
    scale = span / sum(gaps)
    jobs, now = [], 0.0
    for (index, pods, gpus, duration, limit), gap in zip(drawn, gaps, strict=True):
        now += gap * scale
        jobs.append(TimedJob(f"j{index:05d}", round(now, 1), pods, gpus, duration, limit))
    return jobs


@dataclass
class JobOutcome:
    job: TimedJob
    start: float | None = None
    estimate: float | None = None  # estimated start, when it had to wait on arrival

    @property
    def wait(self) -> float | None:
        return None if self.start is None else self.start - self.job.arrival


@dataclass
class TimedResult:
    policy: str
    outcomes: list[JobOutcome]
    utilisation: list[tuple[float, float]] = field(default_factory=list)  # (s, GPUs used / all)

    def summary(self) -> dict[str, Any]:
        waits = sorted(w for o in self.outcomes if (w := o.wait) is not None)
        largest = max(o.job.size for o in self.outcomes)
        big = [w for o in self.outcomes if o.job.size == largest and (w := o.wait) is not None]
        errors = [
            abs(o.start - o.estimate)
            for o in self.outcomes
            if o.start is not None and o.estimate is not None
        ]
        end = self.utilisation[-1][0] if self.utilisation else 0.0
        busy = sum(
            u * (t2 - t1)
            for (t1, u), (t2, _) in zip(self.utilisation, self.utilisation[1:], strict=False)
        )
        return {
            "policy": self.policy,
            "jobs": len(self.outcomes),
            "started": len(waits),
            "utilisation_pct": round(100 * busy / end, 2) if end else 0.0,
            "mean_wait_min": round(sum(waits) / len(waits) / 60, 2) if waits else 0.0,
            "p95_wait_min": round(waits[min(len(waits) - 1, int(0.95 * len(waits)))] / 60, 2)
            if waits
            else 0.0,
            "largest_gang_gpus": largest,
            "largest_gang_max_wait_min": round(max(big) / 60, 2) if big else None,
            "estimate_mae_min": round(sum(errors) / len(errors) / 60, 2) if errors else None,
            "estimated_jobs": len(errors),
            "makespan_h": round(end / 3600, 2),
        }


class _Sim:
    def __init__(
        self, nodes: int, jobs: Sequence[TimedJob], catalog: Catalog, latency: LatencyMap
    ) -> None:
        self.feed = ClusterFeed(lambda: catalog)
        rows = [
            NodeRow(f"gpu-{i:04d}", 96_000, 1_048_576, GPUS_PER_NODE, "H100") for i in range(nodes)
        ]
        self.feed.replace_nodes([node_object(r) for r in rows])
        self.planner = Planner(self.feed, catalog, latency, BASELINE_POLICY)
        self.total = nodes * GPUS_PER_NODE
        self.used = 0
        self.jobs = {j.name: j for j in jobs}
        self.candidates = {
            j.name: Candidate(j.name, _demands(j), j.pods, j.limit, j.limit) for j in jobs
        }
        self.outcomes = {j.name: JobOutcome(j) for j in jobs}
        self.running: dict[str, tuple[float, tuple[str, ...]]] = {}  # job -> (start, pods)
        self.estimated: dict[str, Holding] = {}  # waiting job -> its estimate, as a holding

    def at(self, seconds: float) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=seconds)

    def releases(self, now: float) -> list[Any]:
        jobs = [
            RunningJob(name, pods, self.at(start + self.jobs[name].limit))
            for name, (start, pods) in self.running.items()
        ]
        return timeline(self.feed.state, jobs, self.at(now))

    def start(self, name: str, placed: Sequence[Any], now: float) -> None:
        for pod in placed:
            self.feed.state.set_pod(pod.key, pod)
        self.running[name] = (now, tuple(p.key for p in placed))
        self.used += self.jobs[name].size
        self.outcomes[name].start = now
        self.estimated.pop(name, None)

    def end(self, name: str) -> None:
        _, pods = self.running.pop(name)
        for key in pods:
            self.feed.state.set_pod(key, None)
        self.used -= self.jobs[name].size

    def estimate(self, name: str, waiting: Sequence[str], now: float) -> None:
        ahead = [self.estimated[w] for w in waiting if w in self.estimated and w != name]
        found = earliest_start(
            self.planner, self.candidates[name], self.releases(now), self.at(now), ahead
        )
        if found.start is not None:
            start = (found.start - EPOCH).total_seconds()
            self.outcomes[name].estimate = start
            self.estimated[name] = Holding(
                name, found.placed, ends_at(found.start, self.jobs[name].limit)
            )


def _demands(job: TimedJob) -> list[PodDemand]:
    found = []
    for index in range(job.pods):
        pod = pod_object(PodRow(f"{job.name}-{index}", 1000, 4096, job.gpus, 1000))
        pod["metadata"]["labels"] = {JOB_LABEL: job.name}
        found.append(parse_pod(pod))
    return found


def simulate(
    policy: str, nodes: int, jobs: Sequence[TimedJob], catalog: Catalog, latency: LatencyMap
) -> TimedResult:
    """Run the jobs through the policy; every job eventually starts (each fits an empty fleet)."""
    sim = _Sim(nodes, jobs, catalog, latency)
    events: list[tuple[float, int, str]] = [(j.arrival, 1, j.name) for j in jobs]
    heapq.heapify(events)
    waiting: list[str] = []
    result = TimedResult(policy, [])
    while events:
        now = events[0][0]
        arrived = []
        while events and events[0][0] == now:
            _, kind, name = heapq.heappop(events)
            if kind == 0:
                sim.end(name)
            else:
                waiting.append(name)
                arrived.append(name)
        for name in _pass(sim, policy, waiting, now):
            waiting.remove(name)
            heapq.heappush(events, (now + sim.jobs[name].duration, 0, name))
        for name in arrived:
            if name in waiting:
                sim.estimate(name, waiting, now)
        result.utilisation.append((now, sim.used / sim.total))
    result.outcomes = [sim.outcomes[j.name] for j in jobs]
    return result


def _pass(sim: _Sim, policy: str, waiting: Sequence[str], now: float) -> list[str]:
    started: list[str] = []
    reserved = None
    for index, name in enumerate(waiting):
        job = sim.candidates[name]
        if policy == "greedy" or reserved is None:
            admission = sim.planner.plan(job)
            if admission.admitted:
                sim.start(name, admission.placed, now)
                started.append(name)
            elif policy == "backfill":
                ahead = [sim.candidates[n] for n in waiting[: index + 1] if n not in started]
                reserved, _ = reservation(sim.planner, ahead, sim.releases(now), sim.at(now))
            continue
        admission = admit_behind(sim.planner, reserved, job, sim.releases(now), sim.at(now))
        if admission.admitted:
            sim.start(name, admission.placed, now)
            started.append(name)
    return started
