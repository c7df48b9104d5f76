"""Several trace variants side by side: one table of unallocated GPU at arrived 100 % and
seconds per seed for each policy, and how one policy fares against another on each variant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suanli.simulate.report import mean_sd
from suanli.simulate.results import CHECKPOINTS
from suanli.simulate.run import RunResult

AT = CHECKPOINTS[0]  # arrived 100 %


@dataclass(frozen=True, slots=True)
class Against:
    """One policy against another on one variant, over the seeds both replayed."""

    fewer_pct: float  # how many fewer GPUs stay unallocated, relative, on the means
    seeds_worse: int  # seeds on which the policy left more unallocated
    seeds: int
    time_ratio: float  # the policy's mean seconds per seed over the other's

    def as_dict(self) -> dict[str, Any]:
        return {
            "fewer_unallocated_at_100_pct": round(self.fewer_pct, 2),
            "seeds_worse": self.seeds_worse,
            "seeds": self.seeds,
            "time_ratio": round(self.time_ratio, 2),
        }


def _unallocated(run: RunResult, policy: str) -> dict[int, float]:
    return {r.seed: r.unallocated.get(AT, math.nan) for r in run.of(policy)}


def _seconds(run: RunResult, policy: str) -> float:
    return mean_sd([r.seconds for r in run.of(policy)])[0]


def against(run: RunResult, policy: str, other: str) -> Against:
    mine, theirs = _unallocated(run, policy), _unallocated(run, other)
    seeds = sorted(set(mine) & set(theirs))
    mean = mean_sd([mine[s] for s in seeds])[0]
    base = mean_sd([theirs[s] for s in seeds])[0]
    fewer = 100 * (1 - mean / base) if base else math.nan
    worse = sum(1 for s in seeds if mine[s] > theirs[s])
    other_seconds = _seconds(run, other)
    ratio = _seconds(run, policy) / other_seconds if other_seconds else math.nan
    return Against(fewer, worse, len(seeds), ratio)


def _cell(values: Sequence[float], digits: int) -> str:
    mean, sd = mean_sd(values)
    return "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def table(runs: Mapping[str, RunResult], policies: Sequence[str], versus: str | None) -> str:
    """One row per variant: each policy's unallocated GPU % at arrived 100 %, seconds and CPU
    seconds per seed (mean ± sd over the seeds), and the first policy against `versus`."""
    first = policies[0]
    compare = versus is not None and versus in policies and versus != first
    headers = [
        "variant",
        *(f"{p} unalloc %" for p in policies),
        *(f"{p} s/seed" for p in policies),
        *(f"{p} CPU s/seed" for p in policies),
    ]
    if compare:
        headers.append(f"{first} vs {versus}")
    rows = []
    for name, run in runs.items():
        row = [name]
        row += [_cell(list(_unallocated(run, p).values()), 2) for p in policies]
        row += [_cell([r.seconds for r in run.of(p)], 1) for p in policies]
        row += [_cell([r.cpu_seconds for r in run.of(p)], 2) for p in policies]
        if compare and versus is not None:
            found = against(run, first, versus)
            row.append(
                f"{found.fewer_pct:+.1f}% fewer, worse on {found.seeds_worse}/{found.seeds}, "
                f"time x{found.time_ratio:.2f}"
            )
        rows.append(row)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Target:
    """What the first policy must do against another on every variant."""

    fewer_pct: float = 10.0  # at least this many fewer unallocated GPUs, relative
    seeds_worse: int = 2  # worse on at most this many seeds (of ten)
    time_ratio: float = 2.0  # at most this many times the other's seconds per seed

    def met(self, found: Against) -> bool:
        return (
            found.fewer_pct >= self.fewer_pct
            and found.seeds_worse <= self.seeds_worse
            and found.time_ratio <= self.time_ratio
        )


def verdicts(
    runs: Mapping[str, RunResult], policy: str, other: str, target: Target
) -> dict[str, dict[str, Any]]:
    """Per variant: the policy against the other, and whether the target is met."""
    out: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        found = against(run, policy, other)
        out[name] = {**found.as_dict(), "met": target.met(found)}
    return out
