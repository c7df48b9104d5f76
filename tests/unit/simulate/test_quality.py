"""Placement quality at a reduced size: the production scoring leaves fewer GPUs unallocated
than best-fit. The full criterion (against fgd on every trace variant, 10 seeds) is checked by
bench/simulate.py; this keeps the direction under test."""

from __future__ import annotations

import statistics

from suanli.simulate.generate import generate_nodes, generate_pods
from suanli.simulate.run import RunSpec, run


def test_suanli_leaves_fewer_gpus_unallocated_than_bestfit() -> None:
    spec = RunSpec(
        tuple(generate_nodes(240)),
        tuple(generate_pods(2000, 7, 0.1)),
        ("suanli", "bestfit"),
        seeds=(42, 43, 44, 45),
        jobs=2,
    )
    outcome = run(spec)
    unallocated = {
        policy: statistics.fmean(r.unallocated[100] for r in outcome.of(policy))
        for policy in spec.policies
    }
    assert unallocated["suanli"] < unallocated["bestfit"]
    dropped = {p: sum(r.failed for r in outcome.of(p)) for p in spec.policies}
    assert dropped["suanli"] <= dropped["bestfit"] * 1.05
