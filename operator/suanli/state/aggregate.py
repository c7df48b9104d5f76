"""Start estimates for the back of the waiting line: an aggregated walk. Pure.

An exact estimate (`suanli.state.backfill.estimates`) plans a job's pods on nodes at the first
release after which it fits, with every job ahead holding the nodes of its own estimate; its cost
grows with the jobs ahead, so only the front of the line gets one. Behind it, the whole line is
estimated in one pass that does not place pods on nodes:

- The fleet is one **pool** per resource: cpu, memory, pod slots, and devices per accelerator
  type (in milli-devices, so shares count as their fraction).
- Everything that holds room holds its **requests added up**: bound pods until their job's
  release in the timeline (never, for jobs without a run time), pods promised to admitted jobs
  and the front of the line's estimates from now until their estimated end (as in the exact
  walk).
- The jobs behind are taken **in line order** on a clock that only moves forward: each starts at
  the first moment the pools hold its whole request (for one of its accepted types, in order of
  preference), then holds it for its expected run time. Moving the clock forward means a job
  never starts before the one ahead of it in this walk: no gap-filling, so the walk is one pass.

What it does not see (fragmentation across nodes, gang domains, filters other than the accelerator
type) can only make the real start later; the status says the estimate is approximate.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from suanli.scoring import MILLI_PER_DEVICE, Catalog, PodDemand
from suanli.scoring.resources import CPU, MEMORY, PODS
from suanli.scoring.snapshot import PlacedPod
from suanli.state.cluster import ClusterState
from suanli.state.earliest import Candidate, Estimate, Holding
from suanli.state.timeline import Release

Pools = dict[str, int]
# The jobs named as ending last before a start (the status shows a few, not thousands).
WAITS_FOR = 5
DEVICES = "devices/"


def device_pool(type_name: str) -> str:
    return f"{DEVICES}{type_name}"


@dataclass(frozen=True)
class Occupant:
    """Room held until `ends` (None: never, as far as the timeline knows)."""

    job: str
    size: Mapping[str, int]
    ends: dt.datetime | None


@dataclass(frozen=True)
class Pooled:
    """A waiting job's whole request in pools: one option per accepted device pool, in order of
    preference (one option for a job without devices; none when no pool takes it)."""

    job: str
    options: tuple[Mapping[str, int], ...]
    runs: float | None  # expected seconds (None: it never ends, as far as estimates know)


def capacity(state: ClusterState) -> Pools:
    """The fleet's allocatable room per pool."""
    pools: Pools = {}
    with state.lock:
        for entry in state.nodes.values():
            facts = entry.facts
            for name in (CPU, MEMORY, PODS):
                _add(pools, {name: facts.allocatable.amount(name)})
            if facts.accelerator is not None and facts.accelerator.count:
                pool = device_pool(facts.accelerator.type_name)
                _add(pools, {pool: facts.accelerator.count * MILLI_PER_DEVICE})
    return pools


def occupants(
    state: ClusterState, releases: Sequence[Release], holding: Iterable[Holding]
) -> list[Occupant]:
    """What holds room: the state's pods (until their release; pods of jobs without one, and
    of no job, never end) and the promised pods (until their holding ends)."""
    ends = {pod: r.at for r in releases for pod in r.pods}
    found: dict[str, tuple[str, Mapping[str, int], dt.datetime | None]] = {}
    with state.lock:
        for key, pod in state.pods.items():
            found[key] = (pod.job or key, _pod_size(state, pod), ends.get(key))
        for held in holding:
            for pod in held.placed:
                found[pod.key] = (held.job, _pod_size(state, pod), held.ends)
    by_job: dict[tuple[str, dt.datetime | None], Pools] = {}
    for job, size, end in found.values():
        _add(by_job.setdefault((job, end), {}), size)
    return [Occupant(job, size, end) for (job, end), size in by_job.items()]


def _pod_size(state: ClusterState, pod: PlacedPod) -> Pools:
    size: Pools = {
        CPU: pod.requests.amount(CPU),
        MEMORY: pod.requests.amount(MEMORY),
        PODS: 1,
    }
    entry = state.nodes.get(pod.node)
    accelerator = entry.facts.accelerator if entry is not None else None
    if accelerator is not None:
        request = pod.gpu_on(accelerator.resource)
        milli = request.whole * MILLI_PER_DEVICE + request.milli
        if milli:
            size[device_pool(accelerator.type_name)] = milli
    return size


def pooled(job: Candidate, pools: Mapping[str, int], catalog: Catalog) -> Pooled:
    """The job's request: every pod's cpu, memory and slot; its devices in the pools of the
    types all its device pods accept (any type when they name none)."""
    base: Pools = {}
    milli = 0
    accepted: list[str] | None = None
    for demand in job.demands:
        _add(base, {CPU: demand.requests.amount(CPU), MEMORY: demand.requests.amount(MEMORY)})
        _add(base, {PODS: 1})
        wanted = demand.gpu.whole * MILLI_PER_DEVICE + demand.gpu.milli
        if not wanted:
            continue
        milli += wanted
        mine = _device_pools(demand, pools, catalog)
        accepted = mine if accepted is None else [p for p in accepted if p in mine]
    # A resource no node declares is not counted (rather than never fitting).
    base = {name: amount for name, amount in base.items() if name in pools}
    runs = job.expected if job.expected is not None else job.limit
    if accepted is None:
        return Pooled(job.job, (base,), runs)
    return Pooled(job.job, tuple({**base, pool: milli} for pool in accepted if pool in pools), runs)


def _device_pools(demand: PodDemand, pools: Mapping[str, int], catalog: Catalog) -> list[str]:
    types = demand.spec.accelerator_types
    if not types:
        return sorted(p for p in pools if p.startswith(DEVICES))
    found = []
    for name in types:
        known = catalog.get(name) or catalog.resolve(name)
        found.append(device_pool(known.name if known is not None else name))
    return found


def walk(
    pools: Mapping[str, int],
    holders: Iterable[Occupant],
    waiting: Sequence[Pooled],
    now: dt.datetime,
) -> dict[str, Estimate]:
    """Each waiting job's start, in line order on a forward-only clock (the module's rules).
    A job that never fits (more than the fleet has, or than what jobs without a run time leave)
    gets no start and holds nothing, so the jobs behind it are still estimated."""
    free = dict(pools)
    eventual = dict(pools)  # what is free once every job with an end has ended
    ending: list[tuple[dt.datetime, int, str, Mapping[str, int]]] = []
    order = itertools.count()
    for holder in holders:
        _sub(free, holder.size)
        if holder.ends is None:
            _sub(eventual, holder.size)
        else:
            ending.append((max(holder.ends, now), next(order), holder.job, holder.size))
    heapq.heapify(ending)
    clock = now
    last: deque[str] = deque(maxlen=WAITS_FOR)
    found: dict[str, Estimate] = {}
    for job in waiting:
        if not any(_fits(o, eventual) for o in job.options):
            found[job.job] = Estimate(job.job, None, reason=_why_not(job, pools), aggregated=True)
            continue
        while (choice := next((o for o in job.options if _fits(o, free)), None)) is None:
            at, _, name, size = heapq.heappop(ending)  # some option fits `eventual`: one ends
            clock = max(clock, at)
            _add(free, size)
            last.append(name)
        found[job.job] = Estimate(job.job, clock, waits_for=tuple(last), aggregated=True)
        _sub(free, choice)
        if job.runs is None:
            _sub(eventual, choice)
        else:
            ends = clock + dt.timedelta(seconds=job.runs)
            heapq.heappush(ending, (ends, next(order), job.job, choice))
    return found


def _why_not(job: Pooled, pools: Mapping[str, int]) -> str:
    if not job.options:
        return "no node has devices of a type all its pods accept"
    if not any(_fits(o, pools) for o in job.options):
        return "its pods' requests added up are more than the whole fleet has"
    return "the room it needs is held by jobs without a run time"


def _fits(request: Mapping[str, int], free: Mapping[str, int]) -> bool:
    return all(free.get(name, 0) >= amount for name, amount in request.items() if amount)


def _add(pools: Pools, size: Mapping[str, int]) -> None:
    for name, amount in size.items():
        if amount:
            pools[name] = pools.get(name, 0) + amount


def _sub(pools: Pools, size: Mapping[str, int]) -> None:
    for name, amount in size.items():
        if amount:
            pools[name] = pools.get(name, 0) - amount
