"""Benchmark: start time and memory of the local control plane with 0, 100 and 5000 fake nodes.

Each size gets a fresh control plane; memory is the summed resident set of its daemons after the
fleet is Ready and has settled. The empty control plane is the baseline of the same run, so the
ratios hold on a noisy machine.

    python bench/controlplane.py [--sizes 0,100,5000] [--settle 15] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from suanli.devcluster import cluster, nodes
from suanli.devcluster.processes import ProcessRecord
from suanli.fleet import default_fleet, scale_fleet


def rss_mib(record: ProcessRecord) -> float:
    for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(size: int, settle: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="suanli-bench-") as tmp:
        state_dir = Path(tmp)
        began = time.monotonic()
        state = cluster.up(cluster.UpOptions(state_dir=state_dir))
        try:
            ready_seconds = 0.0
            if size:
                fleet = scale_fleet(default_fleet(), size)
                created = time.monotonic()
                count = nodes.apply_fleet(Path(state.kubeconfig), fleet)
                nodes.wait_nodes_ready(Path(state.kubeconfig), count, timeout=900)
                ready_seconds = time.monotonic() - created
            time.sleep(settle)
            per_process = {record.name: round(rss_mib(record), 1) for record in state.processes}
        finally:
            cluster.down(state_dir)
    return {
        "nodes": size,
        "control_plane_start_s": state.start_seconds,
        "nodes_ready_s": round(ready_seconds, 2),
        "total_s": round(time.monotonic() - began, 2),
        "rss_mib": per_process,
        "rss_total_mib": round(sum(per_process.values()), 1),
    }


def _row(result: dict[str, object]) -> str:
    rss = result["rss_mib"]
    assert isinstance(rss, dict)
    cells = [
        result[k] for k in ("nodes", "control_plane_start_s", "nodes_ready_s", "rss_total_mib")
    ]
    cells.append(result["rss_vs_baseline"])
    parts = [f"{cell:>8}" for cell in cells]
    parts.append(f"  {rss['kube-apiserver']:>9} {rss['etcd']:>7} {rss['kwok']:>7}")
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="0,100,5000")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before reading RSS")
    parser.add_argument("--out", type=Path, default=Path("bench/results/controlplane.json"))
    args = parser.parse_args()
    results = [measure(int(size), args.settle) for size in args.sizes.split(",")]
    baseline = float(results[0]["rss_total_mib"])  # type: ignore[arg-type]
    for result in results:
        result["rss_vs_baseline"] = round(float(result["rss_total_mib"]) / baseline, 2)  # type: ignore[arg-type]
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    names = ("nodes", "start s", "ready s", "RSS MiB", "x base", "apiserver", "etcd", "kwok")
    print(
        " ".join(f"{name:>8}" for name in names[:5])
        + f"  {names[5]:>9} {names[6]:>7} {names[7]:>7}"
    )
    for result in results:
        print(_row(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
