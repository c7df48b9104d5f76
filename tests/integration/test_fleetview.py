"""`kubectl suanli top` / `explain` and the web view against the real control plane.

One scene for the module: a queue whose quota a 4 x 8 H100 gang fills (so all four H100 nodes
are taken), a second job of that queue waiting for quota, and a job of no queue whose pod finds
no free H100. Every printed number is checked against what the apiserver holds: the nodes and
their labels, the pods and the placements the extender wrote on them, the operator's status.
The web view is then driven in headless Chromium (Debian's package, over the DevTools
protocol): counts and colours of the heat map, a job's explanation, a live update, and a
screenshot (set SUANLI_UI_SCREENSHOT to keep it, as docs/ui.png is made).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.devcluster.processes import Daemon, free_port, stop
from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import delete_namespace_and_wait, eventually, new_namespace, raw_pods

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from headless import chromium, chromium_binary

GPU_PRODUCT = "nvidia.com/gpu.product"
H100_PRODUCT = "NVIDIA-H100-80GB-HBM3"
VENV_BIN = Path(sys.executable).parent
PLAIN = {"cpu", "memory", "pods", "ephemeral-storage"}  # what a node without accelerators has
FULL, FREE, CPU = [211, 47, 47], [214, 226, 238], [150, 150, 150]


def job(name: str, replicas: int, queue: str | None, gang: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "workload": "training",
        "tasks": [
            {
                "name": "work",
                "replicas": replicas,
                "accelerators": {"count": 8, "types": ["H100"]},
                "template": {
                    "metadata": {"annotations": {"suanli.dev/run-duration": "1h"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "busybox",
                                "resources": {"requests": {"cpu": "8", "memory": "32Gi"}},
                            }
                        ]
                    },
                },
            }
        ],
    }
    if queue:
        spec["queue"] = queue
    if gang:
        spec["gang"] = {"minMember": replicas, "timeoutSeconds": 600}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass
class Scene:
    cp: ControlPlane
    namespace: str
    queue: str

    def status(self, name: str) -> dict[str, Any]:
        found = json.loads(
            self.cp.kubectl("get", "computejob", name, "-n", self.namespace, "-o", "json")
        )
        return dict(found.get("status") or {})

    def plugin(self, *words: str) -> str:
        """`kubectl suanli ...`: kubectl finds kubectl-suanli on the PATH, as a user's would."""
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            "KUBECONFIG": str(self.cp.kubeconfig),
        }
        result = subprocess.run(
            [str(Path(self.cp.state.bin_dir) / "kubectl"), "suanli", *words],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    def nodes(self) -> list[dict[str, Any]]:
        return list(json.loads(self.cp.kubectl("get", "nodes", "-o", "json"))["items"])


@pytest.fixture(scope="module")
def scene(control_plane: ControlPlane, operator: Operator) -> Iterator[Scene]:
    cp = control_plane
    namespace = new_namespace(cp.core, "view")
    cp.kubectl("label", "namespace", namespace, f"team={namespace}")
    queue = f"{namespace}-q"
    manifests = [
        {
            "apiVersion": "suanli.dev/v1alpha1",
            "kind": "ComputeQueue",
            "metadata": {"name": queue, "labels": {"test": namespace}},
            "spec": {
                "namespaceSelector": {"matchLabels": {"team": namespace}},
                "quotas": [{"resource": "H100", "nominal": 32}],
            },
        },
        job("train", 4, queue, gang=True),
    ]
    scene = Scene(cp, namespace, queue)
    try:
        cp.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(manifests))
        eventually(lambda: scene.status("train").get("phase") == "Running", 120, "train Running")
        cp.kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            stdin=yaml.safe_dump_all([job("queued", 1, queue), job("starved", 1, None)]),
        )
        eventually(
            lambda: scene.status("queued").get("queuePosition") == 1, 60, "queued waits for quota"
        )
        eventually(
            lambda: (
                "starved-work-0" in [p["metadata"]["name"] for p in raw_pods(cp.core, namespace)]
            ),
            60,
            "starved's pod",
        )
        yield scene
    finally:
        cp.kubectl("delete", "computejobs", "--all", "-n", namespace, "--wait=false")
        cp.kubectl("delete", "computequeues", "-l", f"test={namespace}", "--wait=false")
        delete_namespace_and_wait(cp.core, namespace, timeout=120)


def test_top_counts_what_the_cluster_holds(scene: Scene) -> None:
    top = json.loads(scene.plugin("top", "-o", "json"))
    nodes = scene.nodes()
    assert sum(r["nodes"] for r in top["fleet"]) == len(nodes)
    (h100,) = [r for r in top["fleet"] if r["kind"]["accelerator"] == "H100"]
    h100_nodes = [n for n in nodes if n["metadata"]["labels"].get(GPU_PRODUCT) == H100_PRODUCT]
    devices = sum(int(n["status"]["allocatable"]["nvidia.com/gpu"]) for n in h100_nodes)
    # The gang holds every H100 device: allocated all, free none.
    assert (h100["nodes"], h100["devices"], h100["allocated"], h100["free"]) == (
        len(h100_nodes),
        devices,
        devices,
        0,
    )
    (queue,) = [q for q in top["queues"] if q["name"] == scene.queue]
    assert (queue["usage"][0]["used"], queue["usage"][0]["nominal"], queue["pending"]) == (
        32,
        32,
        1,
    )
    text = scene.plugin("top")
    print(text)  # shown with -s: the sample in docs/ui.md
    assert text.splitlines()[0].split()[:3] == ["ACCELERATOR", "TIER", "SITE"]
    assert f"{scene.queue}  " in text
    assert "H100 32/32" in text


def test_explain_shows_each_pod_where_it_went_and_why(scene: Scene) -> None:
    explained = json.loads(scene.plugin("explain", "train", "-n", scene.namespace, "-o", "json"))
    pods = {p["metadata"]["name"]: p for p in raw_pods(scene.cp.core, scene.namespace)}
    assert len(explained["placements"]) == 4
    for placed in explained["placements"]:
        pod = pods[placed["pod"]]
        told = json.loads(pod["metadata"]["annotations"]["suanli.dev/placement"])
        assert placed["node"] == pod["spec"]["nodeName"] == told["node"]
        assert placed["score"] == told["score"]
        assert placed["runners_up"] == [[r["node"], r["score"]] for r in told["runnersUp"]]
    assert explained["price_per_hour"] == scene.status("train")["pricePerHour"]
    text = scene.plugin("explain", "train", "-n", scene.namespace)
    assert text.startswith(f"{scene.namespace}/train: Running")
    assert "RUNNERS-UP" in text
    assert "train-work-0" in text


def test_explain_a_job_waiting_for_quota(scene: Scene) -> None:
    explained = json.loads(scene.plugin("explain", "queued", "-n", scene.namespace, "-o", "json"))
    status = scene.status("queued")
    assert (explained["queue"], explained["queue_position"]) == (
        scene.queue,
        status["queuePosition"],
    )
    (blocker,) = [b for b in explained["blockers"] if b["type"] == "QuotaReserved"]
    quota = next(c for c in status["conditions"] if c["type"] == "QuotaReserved")
    assert blocker["message"] == quota["message"]
    assert explained["estimated_start"] == status.get("estimatedStartTime")
    assert f"queue: {scene.queue} (position 1)" in scene.plugin(
        "explain", "queued", "-n", scene.namespace
    )


def test_explain_a_pod_that_fits_nowhere_by_node_kind(scene: Scene) -> None:
    explained = json.loads(scene.plugin("explain", "starved", "-n", scene.namespace, "-o", "json"))
    assert explained["waiting_pods"] == ["starved-work-0"]
    groups = explained["waiting"]
    nodes = scene.nodes()
    assert sum(g["nodes"] for g in groups) == len(nodes)
    h100 = [g for g in groups if g["kind"]["accelerator"] == "H100"]
    # Every H100 is busy (resolvable); every other kind has the wrong type.
    assert sum(g["nodes"] for g in h100) == 4
    assert all("nvidia.com/gpu" in g["reason"] for g in h100), h100
    assert all(
        "accelerator type" in g["reason"] or "no " in g["reason"] for g in groups if g not in h100
    )
    text = scene.plugin("explain", "starved", "-n", scene.namespace)
    print(text)
    assert "why, by node kind:" in text


@pytest.fixture(scope="module")
def ui(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if chromium_binary() is None:
        pytest.fail(
            "chromium is not installed: hack/test.sh installs it (hack/lib.sh ensure_chromium)"
        )
    port = free_port()
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    daemon = Daemon.start(
        "suanli-ui",
        [
            sys.executable,
            "-m",
            "suanli",
            "ui",
            f"--kubeconfig={scene.cp.kubeconfig}",
            f"--port={port}",
            "--interval=0.3",
        ],
        log,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        daemon.wait_until(ready, 60, "ready")
        yield url
    finally:
        stop(daemon.record())
        daemon.process.wait()


# What the test reads off the page: counts per canvas, colours drawn, the jobs' rows.
PROBE = """(a) => {
  const canvases = [...document.querySelectorAll('#heatmap canvas')];
  const job = (k) => document.querySelector(`[data-job="${k}"]`);
  const why = (k) => document.querySelector(`[data-explain="${k}"]`).textContent;
  return {
    nodes: canvases.reduce((s, c) => s + Number(c.dataset.nodes), 0),
    h100: canvases.filter((c) => c.dataset.kind.startsWith('H100/')).map((c) => Number(c.dataset.nodes)),
    busy: suanli.pixel(a.busy, 0), busyLast: suanli.pixel(a.busy, 7),
    cpu: suanli.pixel(a.cpu, 0), free: suanli.pixel(a.free, 0),
    trainPhase: job(a.train).dataset.phase, train: why(a.train),
    queuedPhase: job(a.queued).dataset.phase, queued: why(a.queued),
    queue: document.querySelector(`[data-queue="${a.queue}"]`).textContent,
  };
}"""


def test_web_view_in_a_real_browser(scene: Scene, ui: str, tmp_path: Path) -> None:
    nodes = scene.nodes()
    pods = {p["metadata"]["name"]: p for p in raw_pods(scene.cp.core, scene.namespace)}
    busy = pods["train-work-0"]["spec"]["nodeName"]
    cpu_node = next(
        n["metadata"]["name"]
        for n in nodes
        if all(k in PLAIN or k.startswith("hugepages-") for k in n["status"]["allocatable"])
    )
    free_gpu = next(
        n["metadata"]["name"]
        for n in nodes
        if n["metadata"]["labels"].get(GPU_PRODUCT, H100_PRODUCT) != H100_PRODUCT
        and "nvidia.com/gpu" in n["status"]["allocatable"]
        and not any(p["spec"].get("nodeName") == n["metadata"]["name"] for p in pods.values())
    )
    h100 = sorted(
        n["metadata"]["name"]
        for n in nodes
        if n["metadata"]["labels"].get(GPU_PRODUCT) == H100_PRODUCT
    )
    shot = Path(os.environ.get("SUANLI_UI_SCREENSHOT") or tmp_path / "ui.png")

    async def drive() -> dict[str, Any]:
        async with chromium(1400, 1000) as page:
            await page.navigate(f"{ui}/")
            await page.wait_for(
                "!!(window.suanli && suanli.rendered !== null && document.querySelector('[data-job]'))",
                30,
            )
            args = {
                "busy": busy,
                "cpu": cpu_node,
                "free": free_gpu,
                "train": f"{scene.namespace}/train",
                "queued": f"{scene.namespace}/queued",
                "queue": scene.queue,
            }
            seen = await page.evaluate(f"({PROBE})({json.dumps(args)})")
            await page.screenshot(shot)
            # Live, without a reload: the gang goes; the waiting jobs may take two of its four
            # nodes (one 8-GPU pod each), so at least two turn free, and its row leaves.
            scene.cp.kubectl("delete", "computejob", "train", "-n", scene.namespace, "--wait=false")
            row = '[data-job="' + args["train"] + '"]'
            gone = f"!document.querySelector({json.dumps(row)})"
            freed = f"{json.dumps(h100)}.filter((n) => suanli.pixel(n, 0)[0] === {FREE[0]}).length"
            seen["freed"] = await page.wait_for(f"{gone} && {freed} >= 2 && {freed}", 90)
            return dict(seen)

    seen = asyncio.run(drive())
    assert seen["nodes"] == len(nodes)
    assert seen["h100"] == [4]
    colours = (seen["busy"], seen["busyLast"], seen["cpu"], seen["free"])
    assert colours == (FULL, FULL, CPU, FREE), (busy, cpu_node, free_gpu)
    assert seen["trainPhase"] == "Running"
    assert f"train-work-0 → {busy} score " in seen["train"]
    assert seen["queuedPhase"] == "Queued"
    assert f"queue {scene.queue} (position 1)" in seen["queued"]
    assert "H100 32/32" in seen["queue"]
    assert seen["freed"] >= 2
    assert shot.stat().st_size > 10_000
