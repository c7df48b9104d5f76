"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

A candidate takes the Lease when it is free or its holder stopped renewing for longer than the
lease duration; every write carries the resourceVersion it read, so two candidates can never
both win. The leader renews every `retry_seconds` and gives up when it could not renew within
`renew_deadline_seconds`: better to stop than to act beside a new leader.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    lease_seconds: int = 15
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _format(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class LeaseElector:
    def __init__(self, api: client.CoordinationV1Api, config: LeaseConfig) -> None:
        self.api = api
        self.config = config
        self.is_leader = False
        # Who held the Lease at the last look (None: nobody, or not looked yet): followers that
        # pass requests on to the leader read it.
        self.holder: str | None = None

    def _read(self) -> dict[str, Any] | None:
        try:
            response: Any = self.api.read_namespaced_lease(
                self.config.name, self.config.namespace, _preload_content=False
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(json.loads(response.data))

    def _spec(self, transitions: int, acquired: str | None) -> dict[str, Any]:
        now = _format(_now())
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": self.config.lease_seconds,
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _renewed_in_time(self, spec: dict[str, Any]) -> bool:
        """The holder renewed within the lease duration (else anyone may take the Lease)."""
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds") or self.config.lease_seconds
        return renewed is not None and (_now() - renewed).total_seconds() <= duration

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the Lease afterwards."""
        lease = self._read()
        if lease is None:
            self.holder = None
            body = {
                "metadata": {"name": self.config.name, "namespace": self.config.namespace},
                "spec": self._spec(0, None),
            }
            try:
                self.api.create_namespaced_lease(
                    self.config.namespace, cast(client.V1Lease, body), _preload_content=False
                )
            except ApiException as error:
                if error.status == 409:
                    return False
                raise
            self.holder = self.config.identity
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder and holder != self.config.identity and self._renewed_in_time(spec):
            self.holder = str(holder)
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        ours = holder == self.config.identity
        lease["spec"] = self._spec(
            transitions if ours else transitions + 1, spec.get("acquireTime") if ours else None
        )
        try:
            # The resourceVersion read above makes this a compare-and-swap.
            self.api.replace_namespaced_lease(
                self.config.name,
                self.config.namespace,
                cast(client.V1Lease, lease),
                _preload_content=False,
            )
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        self.holder = self.config.identity
        return True

    def observe(self) -> str | None:
        """Who holds the Lease now (None: nobody, or a holder that stopped renewing), without
        trying to take it."""
        lease = self._read()
        spec = (lease or {}).get("spec") or {}
        holder = spec.get("holderIdentity")
        self.holder = str(holder) if holder and self._renewed_in_time(spec) else None
        return self.holder

    async def acquire(self) -> None:
        """Wait until this candidate leads."""
        while True:
            try:
                if await asyncio.to_thread(self.try_acquire_or_renew):
                    self.is_leader = True
                    log.info("became leader (lease %s/%s)", self.config.namespace, self.config.name)
                    return
            except ApiException as error:
                log.warning("lease %s: %s %s", self.config.name, error.status, error.reason)
            await asyncio.sleep(self.config.retry_seconds)

    async def hold(self, on_lost: Callable[[], None]) -> None:
        """Renew until a renewal fails for longer than the deadline, then call `on_lost`."""
        last_renewal = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self.config.retry_seconds)
            try:
                renewed = await asyncio.to_thread(self.try_acquire_or_renew)
            except ApiException as error:
                log.warning("renewing lease failed: %s %s", error.status, error.reason)
                renewed = False
            now = asyncio.get_running_loop().time()
            if renewed:
                last_renewal = now
            elif now - last_renewal > self.config.renew_deadline_seconds:
                self.is_leader = False
                log.error("lost the lease %s/%s", self.config.namespace, self.config.name)
                on_lost()
                return

    def release(self) -> None:
        """Hand the Lease over at once on a clean shutdown (the next leader needn't wait)."""
        try:
            lease = self._read()
            if (
                lease is None
                or (lease.get("spec") or {}).get("holderIdentity") != self.config.identity
            ):
                return
            lease["spec"]["holderIdentity"] = None
            lease["spec"]["renewTime"] = None
            self.api.replace_namespaced_lease(
                self.config.name,
                self.config.namespace,
                cast(client.V1Lease, lease),
                _preload_content=False,
            )
        except ApiException as error:
            log.warning("releasing lease failed: %s %s", error.status, error.reason)
