"""Benchmark: the web view's first render in headless Chromium at 50, 1000 and 5000 nodes.

Each size is the demo fleet's mix of pools scaled (`suanli.fleet.scale_fleet`), fed into the
view's own model with pods holding about half of the devices (whole devices and shares) and one
job per 25 nodes, then served by the view's own HTTP app on loopback. A fresh page per run
loads it; "first render" is the page's own clock (performance.now(), from navigation start)
when the heat map and tables were first drawn from the snapshot. Budget: < 2 s at 5000 nodes.

    python bench/ui.py [--sizes 50,1000,5000] [--runs 3] [--out bench/results/ui.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from headless import chromium

from suanli.configfiles import ScoringConfigFiles
from suanli.devcluster.processes import free_port
from suanli.fleet import default_fleet, node_manifests, scale_fleet
from suanli.state import ClusterFeed
from suanli.ui.model import UiModel
from suanli.ui.server import make_app

BUDGET_MS = 2000.0


def _pods(model: UiModel, rng: random.Random) -> list[dict[str, Any]]:
    """About half of each GPU node's devices held: whole devices, and a share on some."""
    pods = []
    state = model.feed.state
    for index, name in enumerate(state.names()):
        accelerator = state.nodes[name].facts.accelerator
        if accelerator is None or rng.random() < 0.3:
            continue
        requests: dict[str, Any] = {accelerator.resource: rng.randint(1, accelerator.count)}
        annotations = {}
        if index % 7 == 0:  # a share (no whole device asked): the node shows a part-used device
            annotations["suanli.dev/gpu-milli"] = "500"
            requests = {"cpu": "1"}
        pods.append(
            {
                "metadata": {
                    "name": f"p-{index}",
                    "namespace": "bench",
                    "labels": {"suanli.dev/job": f"job-{index // 25}"},
                    "annotations": annotations,
                },
                "spec": {
                    "nodeName": name,
                    "containers": [{"name": "c", "resources": {"requests": requests}}],
                },
                "status": {"phase": "Running"},
            }
        )
    return pods


def build_model(size: int, seed: int = 7) -> UiModel:
    files = ScoringConfigFiles(None, None)
    model = UiModel(ClusterFeed(lambda: files.catalog))
    model.feed.replace_nodes(node_manifests(scale_fleet(default_fleet(), size)))
    model.replace_pods(_pods(model, random.Random(seed)))
    model.replace_jobs(
        {
            "metadata": {"namespace": "bench", "name": f"job-{j}"},
            "spec": {"queue": "team"},
            "status": {"phase": "Running", "pricePerHour": 12.5, "costAccrued": 3.25},
        }
        for j in range(size // 25 + 1)
    )
    return model


async def measure(size: int, runs: int) -> dict[str, Any]:
    model = build_model(size)
    began = time.perf_counter()
    view = model.view()
    build_ms = (time.perf_counter() - began) * 1000
    payload = len(json.dumps(view, separators=(",", ":")))
    runner = web.AppRunner(make_app(model, lambda: True, interval=0.5))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    renders = []
    try:
        async with chromium() as page:
            for _ in range(runs):
                await page.navigate("about:blank")
                await page.navigate(f"http://127.0.0.1:{port}/")
                await page.wait_for("window.suanli && window.suanli.rendered !== null", 60)
                drawn = await page.evaluate(
                    "document.querySelectorAll('#heatmap canvas').length"
                    " + ':' + Object.keys(suanli.view.nodes).length"
                )
                renders.append(float(await page.evaluate("suanli.rendered")))
    finally:
        await runner.cleanup()
    groups, nodes = map(int, str(drawn).split(":"))
    assert nodes == size, f"the page drew {nodes} nodes of {size}"
    return {
        "nodes": size,
        "groups": groups,
        "pods": len(model.feed.state.pods),
        "view_build_ms": round(build_ms, 1),
        "snapshot_kib": round(payload / 1024, 1),
        "first_render_ms": [round(r, 1) for r in renders],
        "first_render_median_ms": round(statistics.median(renders), 1),
        "first_render_max_ms": round(max(renders), 1),
        "within_budget": max(renders) < BUDGET_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50,1000,5000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ui.json"))
    args = parser.parse_args()
    results = [asyncio.run(measure(int(s), args.runs)) for s in args.sizes.split(",")]
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    header = ("nodes", "pods", "kinds", "view ms", "snap KiB", "render ms", "max ms", "< 2 s")
    print("  ".join(f"{h:>9}" for h in header))
    for r in results:
        cells = (
            r["nodes"],
            r["pods"],
            r["groups"],
            r["view_build_ms"],
            r["snapshot_kib"],
            r["first_render_median_ms"],
            r["first_render_max_ms"],
            "yes" if r["within_budget"] else "NO",
        )
        print("  ".join(f"{c:>9}" for c in cells))
    print(f"wrote {args.out}")
    return 0 if all(r["within_budget"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
