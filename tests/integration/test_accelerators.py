"""Every vendor of the catalog on the real control plane: the pods ask for the device resource of
their accepted types, and land on that vendor's nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.conftest import ControlPlane
from tests.integration.helpers import node_labels, raw_pods
from tests.integration.test_operator import namespace, wait_phase

__all__ = ["namespace"]  # the fixture, shared with the operator tests


def _one_device(types: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "worker",
            "replicas": 1,
            "accelerators": {"count": 1, "types": types},
            "template": {
                "metadata": {"annotations": {"suanli.dev/run-duration": "5s"}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox",
                            "resources": {"requests": {"cpu": "4", "memory": "8Gi"}},
                        }
                    ]
                },
            },
        }
    ]


# name, accepted types (most preferred first), the pool it must land in, the resource it asks for
PLACEMENTS = [
    ("nvidia", ["L40S"], "l40s-usw2", "nvidia.com/gpu"),
    ("amd", ["MI300X"], "mi300x-euw1", "amd.com/gpu"),
    ("ascend910", ["Ascend910B", "Ascend910"], "ascend-cnn1", "huawei.com/Ascend910"),
    ("ascend310p", ["Ascend310P"], "ascend310p-cnn1", "huawei.com/Ascend310P"),
    # The preferred MLU590 is absent from the fleet: the next accepted type is taken.
    ("cambricon", ["MLU590", "MLU370"], "mlu370-cnn1", "cambricon.com/mlu"),
    ("hygon", ["K100-AI", "Z100"], "dcu-cnn1", "hygon.com/dcu"),
]


def _apply(control_plane: ControlPlane, namespace: str, name: str, types: list[str]) -> None:
    body = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": {"workload": "inference", "tasks": _one_device(types)},
    }
    path = Path(control_plane.state.state_dir) / f"{namespace}-{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    control_plane.kubectl("apply", "-n", namespace, "-f", str(path))


def test_one_placement_per_accelerator_vendor(control_plane: ControlPlane, namespace: str) -> None:
    for name, types, _, _ in PLACEMENTS:
        _apply(control_plane, namespace, name, types)
    done = {n: wait_phase(control_plane, namespace, n, "Succeeded", 180) for n, *_ in PLACEMENTS}
    pods = {
        p["metadata"]["labels"]["suanli.dev/job"]: p
        for p in raw_pods(control_plane.core, namespace)
    }
    for name, _, pool, resource in PLACEMENTS:
        (placement,) = done[name]["status"]["placements"]
        assert node_labels(control_plane.core, placement["node"])["suanli.dev/pool"] == pool, name
        limits = pods[name]["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {resource: "1"}, name
