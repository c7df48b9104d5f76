"""What the lifecycle and gang admission read about the cluster: a bound pod's price, a node's
accelerator type, and the capacity other admitted gangs were promised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.controller.cache import JobCache, JobKey
from suanli.scoring import DEFAULT_CONFIG, DemandError, parse_pod
from suanli.scoring.context import build_context
from suanli.scoring.pricing import pod_price
from suanli.scoring.snapshot import PlacedPod
from suanli.state import ClusterFeed, placed_pod, planned_node_of

# Remembered pod prices before the memo starts over (bounds memory; a pod's price is one entry).
_PRICES_KEPT = 200_000


class ClusterFacts:
    def __init__(
        self, cluster: ClusterFeed, config_files: ScoringConfigFiles, cache: JobCache
    ) -> None:
        self.cluster = cluster
        self.config_files = config_files
        self.cache = cache
        self._prices: dict[tuple[str, Any], float] = {}
        self._prices_of: object = None
        # What each pod not counted by the state holds, by the pod object it was read from: a
        # pending pod is promised on every decision until it is bound, and parsing it each time
        # made admissions cost the square of the pods waiting to be bound.
        self._held: dict[str, tuple[Mapping[str, Any], PlacedPod | None]] = {}

    def reserved(self, job_key: JobKey) -> list[PlacedPod]:
        """Pods of other admitted jobs that the cluster state does not count yet: those planned
        on a node but not bound (their capacity is promised), and those bound that its own
        watch has not shown bound yet (the jobs' pods are watched apart: a plan made in between
        would otherwise see their room free)."""
        reserved: list[PlacedPod] = []
        holders, jobs = self.cache.holders, self.cache.jobs
        known, held = self._held, {}
        # Nearly every holder is bound and counted: what is left is a few, found in C.
        for ident in sorted(holders.keys() - self.cluster.state.pods.keys()):
            key, pod = holders[ident]
            # The cache replaces a pod's object on every change: the same object, the same read.
            found = known.get(ident)
            if found is None or found[0] is not pod:
                found = (pod, _holding(pod))
            held[ident] = found
            # A deleted job promises nothing: its pending pods are on their way out.
            if key == job_key or key not in jobs:
                continue
            if found[1] is not None:
                reserved.append(found[1])
        self._held = held  # only the pods still uncounted are remembered
        return reserved

    def price_of(self, pod: Mapping[str, Any]) -> float:
        """A bound pod's price per hour; remembered per pod, node and catalog, because a job's
        status sums it over all its pods on every reconcile."""
        catalog = self.config_files.catalog
        if self._prices_of is not catalog or len(self._prices) > _PRICES_KEPT:
            self._prices_of, self._prices = catalog, {}
        key = (
            str(pod["metadata"].get("uid") or pod["metadata"]["name"]),
            pod["spec"].get("nodeName"),
        )
        price = self._prices.get(key)
        if price is None:
            price = self._price_now(pod)
            if price is None:
                return 0.0  # the node is not known yet: ask again next time
            self._prices[key] = price
        return price

    def _price_now(self, pod: Mapping[str, Any]) -> float | None:
        node = self.cluster.node(str(pod["spec"].get("nodeName")))
        if node is None:
            return None
        try:
            demand = parse_pod(pod)
        except DemandError:
            return 0.0
        files = self.config_files
        context = build_context(
            demand, [node], files.catalog, files.latency, peers=(), config=DEFAULT_CONFIG
        )
        return float(pod_price(context, node).per_hour)

    def accelerator_of(self, node_name: str) -> str | None:
        node = self.cluster.node(node_name)
        accelerator = node.facts.accelerator if node else None
        return accelerator.type_name if accelerator else None


def _holding(pod: Mapping[str, Any]) -> PlacedPod | None:
    """What a job's pod holds: on its node once bound, else on its planned node while pending."""
    if (pod.get("spec") or {}).get("nodeName"):
        return placed_pod(pod)
    node = planned_node_of(pod)
    if node is None or (pod.get("status") or {}).get("phase", "Pending") != "Pending":
        return None
    return placed_pod(pod, node)
