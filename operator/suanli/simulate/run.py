"""Replays of one trace under several policies and seeds, in parallel worker processes."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from suanli.scoring import Catalog, LatencyMap, parse_catalog, parse_latency
from suanli.simulate.arrivals import arrival_sequence
from suanli.simulate.cluster import SimCluster
from suanli.simulate.policies import POLICY_NAMES, TIE_RULES
from suanli.simulate.replay import replay
from suanli.simulate.results import SeedResult
from suanli.simulate.trace import NodeRow, PodRow, trace_catalog

DEFAULT_INFLATE = 1.3


@dataclass(frozen=True)
class RunSpec:
    nodes: tuple[NodeRow, ...]
    pods: tuple[PodRow, ...]
    policies: tuple[str, ...] = ("suanli", "bestfit")
    seeds: tuple[int, ...] = (42,)
    inflate: float = DEFAULT_INFLATE
    jobs: int = 1
    catalog: Path | None = None  # accelerator catalog file; the built-in one when None
    latency: Path | None = None
    ties: str = "own"  # of TIE_RULES: how fgd and the cost baselines order nodes of equal cost

    def __post_init__(self) -> None:
        if self.ties not in TIE_RULES:
            raise ValueError(f"ties: {self.ties!r} is not one of {', '.join(TIE_RULES)}")
        unknown = [p for p in self.policies if p not in POLICY_NAMES]
        if unknown:
            raise ValueError(f"unknown policies {unknown}; choose from {', '.join(POLICY_NAMES)}")
        if not self.seeds or self.inflate <= 0 or self.jobs < 1:
            raise ValueError("need at least one seed, inflate > 0 and jobs >= 1")


@dataclass
class RunResult:
    spec: RunSpec
    results: list[SeedResult] = field(default_factory=list)
    gpu_capacity_milli: int = 0
    trace_load: float = 0.0  # GPU requested by the trace itself, as a share of capacity

    def of(self, policy: str) -> list[SeedResult]:
        return sorted((r for r in self.results if r.policy == policy), key=lambda r: r.seed)


def load_scoring_files(spec: RunSpec) -> tuple[Catalog, LatencyMap]:
    data = resources.files("suanli.data")
    catalog_text = (
        spec.catalog.read_text(encoding="utf-8")
        if spec.catalog
        else data.joinpath("catalog.yaml").read_text(encoding="utf-8")
    )
    latency_text = (
        spec.latency.read_text(encoding="utf-8")
        if spec.latency
        else data.joinpath("latency.yaml").read_text(encoding="utf-8")
    )
    base = parse_catalog(catalog_text)
    return trace_catalog(base, spec.nodes), parse_latency(latency_text)


def run_one(spec: RunSpec, policy: str, seed: int) -> SeedResult:
    """One policy on one seed (the unit of work a worker process does)."""
    catalog, latency = load_scoring_files(spec)
    capacity = sum(row.gpu for row in spec.nodes) * 1000
    sequence = arrival_sequence(spec.pods, capacity, seed, spec.inflate)
    return replay(
        spec.nodes, sequence, policy, catalog=catalog, latency=latency, seed=seed, ties=spec.ties
    )


def run(spec: RunSpec, progress: Callable[[SeedResult], None] | None = None) -> RunResult:
    catalog, _ = load_scoring_files(spec)
    capacity = SimCluster(spec.nodes, catalog).gpu_capacity
    outcome = RunResult(spec, gpu_capacity_milli=capacity)
    outcome.trace_load = sum(p.gpu_request_milli for p in spec.pods) / max(1, capacity)
    tasks = [(policy, seed) for seed in spec.seeds for policy in spec.policies]
    if spec.jobs == 1:
        for policy, seed in tasks:
            outcome.results.append(_report(run_one(spec, policy, seed), progress))
        return outcome
    with ProcessPoolExecutor(max_workers=min(spec.jobs, len(tasks))) as pool:
        futures = [pool.submit(run_one, spec, policy, seed) for policy, seed in tasks]
        for future in as_completed(futures):
            outcome.results.append(_report(future.result(), progress))
    return outcome


def _report(result: SeedResult, progress: Callable[[SeedResult], None] | None) -> SeedResult:
    if progress is not None:
        progress(result)
    return result


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def parse_seeds(text: str) -> tuple[int, ...]:
    """`42-51`, `1,2,5` or a mix: `1,4-6`."""
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"seeds: {part.strip()!r} is not N or N-M")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"seeds: {part.strip()!r} counts down")
        seeds.extend(s for s in range(low, high + 1) if s not in seeds)
    return tuple(seeds)


def parse_policies(text: str) -> tuple[str, ...]:
    policies = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown or not policies:
        raise ValueError(f"policies: choose from {', '.join(POLICY_NAMES)}")
    return policies
