"""GPU shares through the API on the real control plane: three share jobs fill one T4 of the
HAMi-managed pool, and their pods speak HAMi's resources and device annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.conftest import ControlPlane
from tests.integration.helpers import node_labels, raw_pods
from tests.integration.test_operator import namespace, wait_phase

__all__ = ["namespace"]  # the fixture, shared with the operator tests

T4_MIB = 15360  # the pool's nvidia.com/gpu.memory label


def _share_job(name: str, share: float) -> dict[str, Any]:
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": {
            "workload": "inference",
            "tasks": [
                {
                    "name": "worker",
                    "replicas": 1,
                    "accelerators": {"share": share, "types": ["T4"]},
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "busybox",
                                    "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                                }
                            ]
                        }
                    },
                }
            ],
        },
    }


# name, share, milli, HAMi memory (MiB), HAMi cores (percent)
JOBS = [
    ("share-a", 0.25, 250, T4_MIB // 4, 25),
    ("share-b", 0.25, 250, T4_MIB // 4, 25),
    ("share-c", 0.5, 500, T4_MIB // 2, 50),
]


def test_three_share_jobs_fill_one_device(control_plane: ControlPlane, namespace: str) -> None:
    state_dir = Path(control_plane.state.state_dir)
    for name, share, *_ in JOBS:
        path = state_dir / f"{namespace}-{name}.yaml"
        path.write_text(yaml.safe_dump(_share_job(name, share)))
        control_plane.kubectl("apply", "-n", namespace, "-f", str(path))
        # One after another, so each lands where the ones before it already are.
        wait_phase(control_plane, namespace, name, "Running", 120)
    pods = {
        p["metadata"]["labels"]["suanli.dev/job"]: p
        for p in raw_pods(control_plane.core, namespace)
    }
    nodes = {pods[name]["spec"]["nodeName"] for name, *_ in JOBS}
    assert len(nodes) == 1, nodes
    (node,) = nodes
    assert node_labels(control_plane.core, node)["suanli.dev/pool"] == "t4-usw2"
    devices: set[str] = set()
    uuids: set[str] = set()
    for name, _, milli, memory, cores in JOBS:
        annotations = pods[name]["metadata"]["annotations"]
        assert annotations["suanli.dev/gpu-milli"] == str(milli), name
        index, _, taken = annotations["suanli.dev/gpu-devices"].partition(":")
        assert taken == str(milli), name
        devices.add(index)
        allocated = annotations["hami.io/vgpu-devices-allocated"]
        assert allocated == annotations["hami.io/vgpu-devices-to-allocate"], name
        uuid, vendor, mib, percent = allocated.removesuffix(":;").split(",")
        assert (vendor, mib, percent) == ("NVIDIA", str(memory), str(cores)), name
        assert uuid == f"GPU-{node}-{index}", name
        uuids.add(uuid)
        assert annotations["hami.io/vgpu-node"] == node, name
        limits = pods[name]["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {
            "nvidia.com/gpu": "1",
            "nvidia.com/gpumem": str(memory),
            "nvidia.com/gpucores": str(cores),
        }, name
    assert len(devices) == 1, devices
    assert len(uuids) == 1, uuids


def test_gang_members_on_one_node_get_distinct_devices(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Four 4-GPU members of one gang fill two 8-GPU nodes, two to a node: kube-scheduler binds
    them in parallel, and every device is handed to exactly one of them."""
    job = _share_job("pairs", 0.25)
    task = job["spec"]["tasks"][0]
    task["replicas"] = 4
    task["accelerators"] = {"count": 4, "types": ["H100"]}
    job["spec"]["workload"] = "training"
    job["spec"]["gang"] = {"minMember": 4}
    path = Path(control_plane.state.state_dir) / f"{namespace}-pairs.yaml"
    path.write_text(yaml.safe_dump(job))
    control_plane.kubectl("apply", "-n", namespace, "-f", str(path))
    wait_phase(control_plane, namespace, "pairs", "Running", 120)
    by_node: dict[str, list[set[str]]] = {}
    for pod in raw_pods(control_plane.core, namespace):
        devices = pod["metadata"]["annotations"]["suanli.dev/gpu-devices"].split(",")
        by_node.setdefault(pod["spec"]["nodeName"], []).append(set(devices))
    assert sum(len(sets) for sets in by_node.values()) == 4
    for node, sets in by_node.items():
        taken = [device for devices in sets for device in devices]
        assert len(taken) == len(set(taken)), f"{node}: {sets}"
