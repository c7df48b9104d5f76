"""Benchmark: scheduling decisions at fleet scale, in-process, over HTTP, and end to end.

1. In-process: the extender's filter verb on the demo fleet scaled to 1000, 5000 and 10000
   nodes, about half allocated (whole devices, shares, cpu), for five pod kinds; each decision
   is followed by a bind (the pod counts on its node), as in a stream of pods. The reference
   (`evaluate` over every node, what the filter did before the cluster-state model) is timed
   on the same state as the baseline of the same run.
2. HTTP: the same through the real aiohttp server (`ExtenderApp`) in a child process.
3. End to end: the local control plane with N KWOK nodes, the extender and the operator; the
   same one-GPU pods through `default-scheduler` and through `suanli-scheduler`, one after the
   other, each created while its scheduler process is stopped (SIGSTOP), then timed from
   SIGCONT to the last bind. Both schedulers run with the same client QPS settings. A batch
   takes seconds and this machine's noise moves one by a third, so this is done over --rounds
   rounds, who goes first alternating; the ratio is the median of the rounds' ratios. Then the
   resident memory of the extender and the operator.
4. Gangs: on the demo fleet, how soon a waiting gang starts once the capacity it needs is freed.

    python bench/scheduler.py [--sizes 1000,5000,10000] [--e2e-nodes 5000,10000] [--pods 300]
                               [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from schede2e import end_to_end
from schedfleet import (
    FILES,
    KINDS,
    filled_feed,
    gpu_utilisation,
    pending_pods,
    service_over,
    summary,
)
from schedgang import gang_requeue
from schedhttp import http_latencies

from suanli.extender.wire import ExtenderArgs
from suanli.scoring import evaluate, parse_pod


def in_process(size: int, reps: int) -> dict[str, Any]:
    feed = filled_feed(size)
    service = service_over(feed)
    names = feed.state.names()
    result: dict[str, Any] = {"nodes": size, "gpu_allocated": round(gpu_utilisation(feed), 3)}
    for kind in KINDS:
        latencies: list[float] = []
        # The thread's own CPU time beside the wall time: what the decision costs, without the
        # waits of a process that a busy machine puts aside.
        cpu: list[float] = []
        placed: list[dict[str, Any]] = []
        for index in range(reps):
            pod = pending_pods(kind, index)
            args = ExtenderArgs.model_validate({"Pod": pod, "NodeNames": names})
            began, began_cpu = time.perf_counter(), time.thread_time()
            answer = service.filter(args)
            latencies.append(time.perf_counter() - began)
            cpu.append(time.thread_time() - began_cpu)
            if answer.node_names:
                feed.assume(pod, answer.node_names[0])
                placed.append(pod)
        for pod in placed:
            feed.apply_pod("DELETED", pod)
        on_cpu = {f"cpu_{key}": value for key, value in summary(cpu).items()}
        result[kind] = {**summary(latencies), **on_cpu, "placed": len(placed)}
    # The reference: every node judged on its own, as the filter did before.
    snapshot = feed.snapshot()
    demand = parse_pod(pending_pods("one-gpu", 0))
    workload = feed.workload()
    reference: list[float] = []
    for _ in range(3):
        began = time.perf_counter()
        evaluate(demand, snapshot.nodes, FILES.catalog, FILES.latency, workload=workload)
        reference.append(time.perf_counter() - began)
    result["reference_one_gpu_ms"] = round(min(reference) * 1000, 1)
    return result


def _print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    header = f"{'nodes':>6}  {'kind':<14}{'p50 ms':>9}{'p99 ms':>9}{'cpu p50':>9}{'cpu p99':>9}"
    print(header)
    for row in rows:
        for kind in KINDS:
            if kind in row:
                cell = row[kind]
                cpu = "".join(f"{cell.get(f'cpu_{p}_ms', '-'):>9}" for p in ("p50", "p99"))
                print(f"{row['nodes']:>6}  {kind:<14}{cell['p50_ms']:>9}{cell['p99_ms']:>9}{cpu}")
        if "reference_one_gpu_ms" in row:
            print(f"{row['nodes']:>6}  {'(reference)':<14}{row['reference_one_gpu_ms']:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--e2e-nodes", default="5000,10000", help="empty: skip end to end")
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument(
        "--rounds", type=int, default=5, help="end to end: batches through each scheduler"
    )
    parser.add_argument("--skip-gang", action="store_true", help="skip the gang requeue part")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scheduler.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    report: dict[str, Any] = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()}
    }
    report["in_process"] = [in_process(size, args.reps) for size in sizes]
    _print_table("in-process filter (half-allocated fleet)", report["in_process"])
    report["http"] = [http_latencies(size, args.reps) for size in sizes]
    _print_table("over HTTP (aiohttp server in a child process)", report["http"])
    e2e_sizes = [int(s) for s in args.e2e_nodes.split(",") if s]
    if e2e_sizes:
        report["end_to_end"] = [end_to_end(n, args.pods, args.rounds) for n in e2e_sizes]
        print(f"\nend to end, real kube-scheduler on KWOK nodes, medians of {args.rounds} rounds")
        print(
            f"{'nodes':>6}{'default pods/s':>16}{'suanli pods/s':>15}{'ratio':>7}"
            f"{'extender MiB':>14}{'operator MiB':>14}  ratio by round"
        )
        for row in report["end_to_end"]:
            print(
                f"{row['nodes']:>6}{row['default_pods_per_s']:>16}{row['suanli_pods_per_s']:>15}"
                f"{row['ratio']:>7}{row['extender_rss_mib']:>14}{row['operator_rss_mib']:>14}"
                f"  {', '.join(f'{r:g}' for r in row['round_ratios'])}"
            )
        for row in report["end_to_end"]:
            print(f"\nextender mean ms per request, by verb and phase ({row['nodes']} nodes)")
            for phase, mean in row["extender_phase_ms"].items():
                print(f"  {phase:<22}{mean:>9}")
        print("\nCPU ms per pod while each batch was scheduled, by daemon")
        for row in report["end_to_end"]:
            cpu = row["cpu_ms_per_pod"]
            names = sorted(cpu["suanli-scheduler"], key=lambda n: -cpu["suanli-scheduler"][n])
            print(f"{row['nodes']:>6} nodes  {'daemon':<24}{'default':>9}{'suanli':>9}")
            for name in names:
                print(
                    f"{'':>13}{name:<24}{cpu['default-scheduler'][name]:>9}"
                    f"{cpu['suanli-scheduler'][name]:>9}"
                )
    if not args.skip_gang:
        report["gang"] = gang_requeue()
        print(f"\nsecond gang Running after its capacity was freed: {report['gang']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    # Stopped from outside, still take the local control plane down (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    multiprocessing.set_start_method("spawn")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
