"""A ComputeJob's data against the data policy: refused at apply when no node could hold it.

Only what the policy and the job settle between them, whatever nodes join later: a class the
policy allows nowhere, or whose every rule the job's own bounds (its tiers, its residency)
exclude. A job the fleet of the moment cannot place is not refused; it waits, and its status
says why (the same reasons the extender gives kube-scheduler). Pure.
"""

from __future__ import annotations

from suanli.api import ComputeJob
from suanli.scoring import Classification, DataPolicy, Tier
from suanli.scoring.datapolicy import rule_conflict


def data_problems(job: ComputeJob, policy: DataPolicy) -> list[str]:
    """The problem with the job's spec.data, naming the field and the fix; empty when some
    node could hold its data."""
    data = job.spec.data
    if data is None:
        return []
    classification = Classification(data.classification.value)
    rules = policy.rules(classification)
    if not rules:
        return [
            f"spec.data.classification: the data policy {policy.name!r} allows "
            f"{classification} data on no node; choose another classification, or ask the "
            f"cluster's administrator for a rule under classes.{classification}"
        ]
    locality = job.spec.locality
    tiers = [Tier(t.value) for t in locality.tiers] if locality else []
    conflicts = [rule_conflict(rule, tiers, data.residency) for rule in rules]
    if not all(conflicts):
        return []
    return [
        f"spec.data: no rule of the data policy {policy.name!r} for {classification} data can "
        f"be met: {'; '.join(c for c in conflicts if c)}; widen spec.locality.tiers or "
        "spec.data.residency, or choose another classification"
    ]
