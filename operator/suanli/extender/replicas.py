"""Several extender replicas, one decider.

The extender remembers the pods it has just bound until its watch shows them, and places gang
peers and GPU shares by what it has bound. Two replicas deciding at once would each miss the
other's binds for a moment, and could put two pods on one GPU share or a gang across racks. So the
holder of a Lease decides every verb, and the other replicas pass the requests they receive on to
it: whichever replica kube-scheduler (or a Service) reaches, the answer is the leader's.

On SIGTERM the leader stops deciding, lets its decisions in flight finish, hands the Lease over
and keeps passing requests on for a grace period (endpoints update after the pod is marked
terminating), so a rolling update moves the decisions from one replica to the next without a
pause longer than one Lease poll. A new leader lists the bound pods afresh before it decides: the
binds of the previous leader are then in its state even if its watch lags behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from suanli.kube.lease import LeaseElector

log = logging.getLogger(__name__)

# How often a waiting request looks whether a leader is known.
_POLL_SECONDS = 0.05
# How often a replica that stepped down reads the Lease to learn the next leader.
_FOLLOW_SECONDS = 0.25


class ReplicaRole:
    def __init__(self, elector: LeaseElector, takeover: Callable[[], None]) -> None:
        self.elector = elector
        self._takeover = takeover
        self.leading = False
        self.in_flight = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str:
        return self.elector.config.identity

    def leader(self) -> str | None:
        """The URL to pass a request on to; None while this replica leads or no leader is known."""
        if self.leading:
            return None
        holder = self.elector.holder
        return holder if holder and holder != self.identity else None

    async def wait(self, timeout: float) -> str | None:
        """Until this replica leads ("" then) or another is known to (its URL); None when
        neither happened within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.leading:
                return ""
            target = self.leader()
            if target is not None:
                return target
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(_POLL_SECONDS)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await self.elector.acquire()
            try:
                await asyncio.to_thread(self._takeover)
            except Exception:
                # Deciding on a state that may miss the last leader's binds is worse than a
                # moment without a leader: give the Lease back and try again.
                log.exception("taking over failed; handing the lease back")
                await asyncio.to_thread(self.elector.release)
                self.elector.is_leader = False
                await asyncio.sleep(self.elector.config.retry_seconds)
                continue
            self.leading = True
            lost = asyncio.Event()
            await self.elector.hold(lost.set)
            self.leading = False

    async def step_down(self, drain_seconds: float = 5.0) -> None:
        """Stop deciding, let the decisions in flight finish, and hand the Lease over."""
        if self._task is not None:
            self._task.cancel()
        was_leading, self.leading = self.leading, False
        if not was_leading:
            return
        # Requests that arrive now wait for the next leader instead of being decided here.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
        await asyncio.to_thread(self.elector.release)
        self.elector.is_leader = False
        self.elector.holder = None
        log.info("handed the lease over")

    async def follow(self) -> None:
        """After stepping down: keep learning who leads, to pass the late requests on to."""
        while True:
            try:
                await asyncio.to_thread(self.elector.observe)
            except Exception as error:  # the apiserver is away: ask again
                log.warning("reading the lease failed: %s", error)
            await asyncio.sleep(_FOLLOW_SECONDS)
