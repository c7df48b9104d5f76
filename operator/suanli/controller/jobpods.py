"""A job's pods as the operator creates them (their manifests, a batch per turn) and as the
extender will read them (their demands), from the job, its admission and the scoring files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.actions import Actions
from suanli.controller.podspec import pod_manifest
from suanli.controller.shares import SharePool
from suanli.controller.shares import share_pools as pools_of
from suanli.controller.slots import PodSlot
from suanli.scoring import DemandError, PodDemand, parse_pod
from suanli.state import ClusterFeed

# Pods created per reconcile of one job before the other queued jobs get their turn.
CREATE_BATCH = 200


class JobPods:
    def __init__(
        self,
        config_files: ScoringConfigFiles,
        cluster: ClusterFeed,
        edge_tolerations: Sequence[dict[str, str]],
    ) -> None:
        self.config_files = config_files
        self.cluster = cluster
        self.edge_tolerations = tuple(edge_tolerations)

    def manifests(
        self, job: ComputeJob, body: Mapping[str, Any], actions: Actions
    ) -> list[dict[str, Any]]:
        # A job of thousands of pods is created a batch per turn, so the jobs queued behind it
        # are reconciled in between (the next turn creates what is still missing).
        admission = actions.status.admission
        batch = actions.create[:CREATE_BATCH]
        pools = self.share_pools(job) if batch else frozenset()
        return [
            pod_manifest(
                job,
                dict(body["metadata"]),
                c.slot,
                self.config_files.catalog,
                attempt=c.attempt,
                planned_node=c.planned_node,
                admitted_types=admission.accelerator_types if admission else None,
                edge_tolerations=self.edge_tolerations,
                share_pools=pools,
            )
            for c in batch
        ]

    def share_pools(self, job: ComputeJob) -> frozenset[SharePool]:
        """The accelerator pools a share task picks its stack from (read only for jobs that
        ask for shares: it looks at every node)."""
        if not any(t.accelerators and t.accelerators.shared for t in job.spec.tasks):
            return frozenset()
        with self.cluster.lock:
            facts = [entry.facts for entry in self.cluster.state.nodes.values()]
        return pools_of(facts)

    def demands(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        missing: list[PodSlot],
        admitted_types: list[str] | None = None,
    ) -> list[PodDemand]:
        """The pods as the extender will read them (DemandError when they cannot be scored)."""
        if admitted_types is None:
            admission = (body.get("status") or {}).get("admission") or {}
            admitted_types = list(admission.get("acceleratorTypes") or []) or None
        pools = self.share_pools(job)
        return [
            parse_pod(
                pod_manifest(
                    job,
                    dict(body["metadata"]),
                    slot,
                    self.config_files.catalog,
                    admitted_types=admitted_types,
                    edge_tolerations=self.edge_tolerations,
                    share_pools=pools,
                )
            )
            for slot in missing
        ]

    def readable_demands(
        self,
        job: ComputeJob,
        body: Mapping[str, Any],
        missing: list[PodSlot],
        admitted_types: list[str] | None = None,
    ) -> list[PodDemand] | None:
        """`demands`, or None when the pods cannot be scored."""
        try:
            return self.demands(job, body, missing, admitted_types)
        except DemandError:
            return None
