"""The ComputeJobs of the fault suite: a seeded mix that runs to completion on the demo fleet.

Four kinds, each pod running 10-40 s on KWOK (`suanli.dev/run-duration`):
- batch: 1-3 CPU pods;
- gpu: one pod with 1-2 whole GPUs of a datacentre type;
- gang: 2-4 pods of 1-4 GPUs each, all or nothing;
- share: 2-4 pods with a quarter of a T4 each (the extender picks the device).
"""

from __future__ import annotations

import random
from typing import Any

KINDS = ("batch", "gpu", "gang", "share")
WEIGHTS = (40, 30, 15, 15)


def _task(name: str, replicas: int, cpu: int, seconds: int) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": replicas,
        "template": {
            "metadata": {"annotations": {"suanli.dev/run-duration": f"{seconds}s"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "resources": {"requests": {"cpu": str(cpu), "memory": "2Gi"}},
                    }
                ],
            },
        },
    }


def chaos_job(index: int, rng: random.Random) -> dict[str, Any]:
    """Job number `index`; the same `rng` state gives the same job."""
    kind = rng.choices(KINDS, WEIGHTS)[0]
    seconds = rng.randint(10, 40)
    spec: dict[str, Any]
    if kind == "batch":
        task = _task("work", rng.randint(1, 3), rng.randint(1, 4), seconds)
        spec = {"workload": "batch", "tasks": [task]}
    elif kind == "gpu":
        task = _task("train", 1, 4, seconds)
        task["accelerators"] = {"count": rng.randint(1, 2), "types": ["L40S", "A100", "H100"]}
        spec = {"workload": "training", "tasks": [task]}
    elif kind == "gang":
        replicas = rng.randint(2, 4)
        task = _task("worker", replicas, 4, seconds)
        task["accelerators"] = {"count": rng.choice((1, 2, 4)), "types": ["A100", "H100"]}
        spec = {
            "workload": "training",
            "tasks": [task],
            "gang": {"minMember": replicas, "timeoutSeconds": 900},
        }
    else:
        task = _task("server", rng.randint(2, 4), 1, seconds)
        task["accelerators"] = {"share": 0.25, "types": ["T4"]}
        spec = {"workload": "inference", "tasks": [task]}
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": f"chaos-{index:04d}", "labels": {"chaos-kind": kind}},
        "spec": spec,
    }
