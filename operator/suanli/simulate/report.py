"""Summaries of a run: mean +- sd over seeds, as a table, JSON and a plot."""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suanli.simulate.results import CHECKPOINTS, SeedResult
from suanli.simulate.run import RunResult

BASELINE = "bestfit"


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else 0.0


def _metric(results: Sequence[SeedResult], name: str) -> tuple[float, float]:
    return mean_sd([_value(r, name) for r in results])


def _value(result: SeedResult, name: str) -> float:
    if name.startswith("unallocated@"):
        return result.unallocated.get(int(name.removeprefix("unallocated@")), math.nan)
    if name == "fragmentation":
        return result.fragmentation_rate
    if name == "fragmented":
        return result.fragmented
    if name == "failed":
        return 100 * result.failed / max(1, result.pods)
    return result.seconds


def curve(results: Sequence[SeedResult]) -> list[dict[str, float]]:
    """Allocated GPU % at each arrived % (mean and sd over the seeds that reach it)."""
    points: dict[float, list[float]] = {}
    for result in results:
        for arrived, allocated in result.curve:
            points.setdefault(arrived, []).append(allocated)
    rows = []
    for arrived in sorted(points):
        mean, sd = mean_sd(points[arrived])
        rows.append({"arrived": arrived, "allocated": round(mean, 4), "sd": round(sd, 4)})
    return rows


def summary(run: RunResult) -> dict[str, Any]:
    spec = run.spec
    policies: dict[str, Any] = {}
    for policy in spec.policies:
        results = run.of(policy)
        metrics = {
            name: dict(
                zip(("mean", "sd"), (round(v, 4) for v in _metric(results, name)), strict=True)
            )
            for name in (
                *(f"unallocated@{c}" for c in CHECKPOINTS),
                "fragmented",
                "fragmentation",
                "failed",
                "seconds",
            )
        }
        policies[policy] = {
            "metrics": metrics,
            "seeds": [r.summary() for r in results],
            "curve": curve(results),
        }
    return {
        "nodes": len(spec.nodes),
        "pods": len(spec.pods),
        "gpus": run.gpu_capacity_milli / 1000,
        "trace_load": round(run.trace_load, 4),
        "inflate": spec.inflate,
        "ties": spec.ties,
        "seeds": list(spec.seeds),
        "policies": policies,
        "versus_bestfit": versus(run),
    }


def versus(run: RunResult, baseline: str = BASELINE) -> dict[str, Any]:
    """Per policy: how many fewer GPUs stay unallocated at arrived 100 % than the baseline
    (relative, on the means), and on how many seeds it was not worse."""
    if baseline not in run.spec.policies:
        return {}
    base = {r.seed: r.unallocated.get(CHECKPOINTS[0], math.nan) for r in run.of(baseline)}
    base_mean, _ = mean_sd(list(base.values()))
    out: dict[str, Any] = {}
    for policy in run.spec.policies:
        if policy == baseline:
            continue
        mine = {r.seed: r.unallocated.get(CHECKPOINTS[0], math.nan) for r in run.of(policy)}
        mean, _ = mean_sd(list(mine.values()))
        out[policy] = {
            "fewer_unallocated_at_100_pct": round(100 * (1 - mean / base_mean), 2)
            if base_mean
            else None,
            "seeds_not_worse": sum(1 for s, v in mine.items() if v <= base.get(s, math.inf)),
            "seeds": len(mine),
        }
    return out


def _cell(pair: tuple[float, float], digits: int = 2) -> str:
    mean, sd = pair
    return "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def table(run: RunResult) -> str:
    headers = [
        "policy",
        *(f"unalloc GPU % @{c}%" for c in CHECKPOINTS),
        "frag GPU % @100%",
        "frag/idle % @100%",
        "failed pods %",
        "s/seed",
        "vs bestfit @100%",
    ]
    compared = versus(run)
    rows = []
    for policy in run.spec.policies:
        results = run.of(policy)
        against = compared.get(policy)
        rows.append(
            [
                policy,
                *(_cell(_metric(results, f"unallocated@{c}")) for c in CHECKPOINTS),
                _cell(_metric(results, "fragmented")),
                _cell(_metric(results, "fragmentation"), 1),
                _cell(_metric(results, "failed")),
                _cell(_metric(results, "seconds"), 1),
                f"{against['fewer_unallocated_at_100_pct']:+.1f}% fewer, "
                f"{against['seeds_not_worse']}/{against['seeds']} seeds not worse"
                if against and against["fewer_unallocated_at_100_pct"] is not None
                else "",
            ]
        )
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    spec = run.spec
    seeds = f"{spec.seeds[0]}-{spec.seeds[-1]}" if len(spec.seeds) > 1 else str(spec.seeds[0])
    title = (
        f"{len(spec.nodes)} nodes, {run.gpu_capacity_milli / 1000:g} GPUs, {len(spec.pods)} pods "
        f"(trace load {100 * run.trace_load:.0f}%), inflate {spec.inflate:g}, ties {spec.ties}, "
        f"seeds {seeds} (mean ± sd over {len(spec.seeds)})"
    )
    return "\n".join([title, *lines])


def write_json(run: RunResult, path: Path) -> dict[str, Any]:
    data = summary(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


def can_plot() -> bool:
    """Whether matplotlib (the `plot` extra, not in the operator's image) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def plot(run: RunResult, path: Path) -> None:
    """GPU allocated against workload arrived, one line (mean, band +- sd) per policy."""
    import matplotlib  # noqa: PLC0415 - only plotting needs it; loading it is slow

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5), dpi=110)
    top = 100 * run.spec.inflate
    for policy in run.spec.policies:
        rows = curve(run.of(policy))
        xs = [r["arrived"] for r in rows]
        mean = [r["allocated"] for r in rows]
        sd = [r["sd"] for r in rows]
        (line,) = left.plot(xs, mean, label=policy, linewidth=1.4)
        left.fill_between(
            xs,
            [m - s for m, s in zip(mean, sd, strict=True)],
            [m + s for m, s in zip(mean, sd, strict=True)],
            color=line.get_color(),
            alpha=0.15,
        )
        right.plot(xs, [100 - m for m in mean], label=policy, color=line.get_color(), linewidth=1.4)
    left.plot([0, 100, top], [0, 100, 100], color="grey", linestyle=":", linewidth=1, label="ideal")
    left.set(
        xlabel="arrived workload (% of GPU capacity)",
        ylabel="GPU allocated (%)",
        title="GPU allocation",
        xlim=(0, top),
        ylim=(0, 102),
    )
    for checkpoint in CHECKPOINTS:
        right.axvline(checkpoint, color="grey", linestyle=":", linewidth=1)
    right.set_yscale("log")
    right.set(
        xlabel="arrived workload (% of GPU capacity)",
        ylabel="GPU unallocated (%, log scale)",
        title="Unallocated GPU near saturation",
        xlim=(80, top),
        ylim=(0.1, 40),
    )
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize=8)
    figure.suptitle(table(run).splitlines()[0], fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
