"""The timeline: when capacity frees up, on which nodes. Pure (the clock is passed in).

A running job ends, at the latest, when its time limit passes; with an expected run time, that
is when it is expected to end. Each job with an end gives a `Release`: the pods it holds in the
cluster state and their nodes, at that moment. A job whose end has passed (it is being stopped)
releases now. Jobs without any run time never release in the timeline: what they hold is not
counted on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from suanli.state.cluster import ClusterState


@dataclass(frozen=True)
class RunningJob:
    """A job holding capacity: the pods it holds (keys `namespace/name`) and when it ends."""

    job: str  # `namespace/name`
    pods: tuple[str, ...]
    ends: dt.datetime | None  # None: no time limit nor expected run time


@dataclass(frozen=True)
class Release:
    """Capacity freed at `at`: the job's pods leave their nodes."""

    at: dt.datetime
    job: str
    pods: tuple[str, ...]
    nodes: tuple[str, ...]


def timeline(state: ClusterState, running: Iterable[RunningJob], now: dt.datetime) -> list[Release]:
    """Releases in time order (then by job): only pods the state holds count."""
    releases: list[Release] = []
    with state.lock:
        for job in running:
            if job.ends is None:
                continue
            held = tuple(sorted(p for p in job.pods if p in state.pods))
            if not held:
                continue
            nodes = tuple(sorted({state.pods[p].node for p in held}))
            releases.append(Release(max(job.ends, now), job.job, held, nodes))
    releases.sort(key=lambda r: (r.at, r.job))
    return releases


def unending(state: ClusterState, running: Iterable[RunningJob]) -> list[str]:
    """Jobs holding capacity that never release in the timeline (no run time)."""
    with state.lock:
        return sorted(
            job.job
            for job in running
            if job.ends is None and any(p in state.pods for p in job.pods)
        )


def moments(releases: Sequence[Release]) -> list[dt.datetime]:
    """The distinct times at which capacity frees up, in order."""
    return sorted({r.at for r in releases})


@contextmanager
def released_until(
    state: ClusterState, releases: Sequence[Release], until: dt.datetime
) -> Iterator[list[str]]:
    """A what-if in which every release up to `until` has happened; yields the jobs released."""
    with state.what_if():
        gone: list[str] = []
        for release in releases:
            if release.at > until:
                break
            for pod in release.pods:
                state.set_pod(pod, None)
            gone.append(release.job)
        yield gone
