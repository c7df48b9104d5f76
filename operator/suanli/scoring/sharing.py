"""The GPU sharing stacks a node may run, and what a share pod must carry for each.

A share of one device (`suanli.dev/gpu-milli`) is counted by Suanli device by device, but the
device plugin on the node is what finally hands the container a device. Clusters run one of:

- HAMi: its device plugin advertises `nvidia.com/gpu` as a count of virtual GPUs, a pod asks
  for `nvidia.com/gpu: 1` with `nvidia.com/gpumem` (MiB) and `nvidia.com/gpucores` (percent),
  and the scheduler names the device in the pod annotations `hami.io/vgpu-devices-to-allocate`
  and `hami.io/vgpu-devices-allocated` (the device UUIDs come from the node annotation
  `hami.io/node-nvidia-register`).
- NVIDIA time-slicing with renamed resources: the node advertises `nvidia.com/gpu.shared`
  (physical devices x replicas); a pod asks for `nvidia.com/gpu.shared: 1`; the plugin picks
  the device itself and isolates nothing.
- neither ("suanli"): only Suanli's own annotation `suanli.dev/gpu-devices`, for a plugin that
  reads it; kube-scheduler sees no device request at all.

A node's stack is read from what it advertises, a pod's from the resources it requests; a
share pod only goes to a node of its own stack (its requests would mean nothing elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from suanli.scoring.devices import Allocation
from suanli.scoring.resources import Resources

HAMI_MEMORY = "nvidia.com/gpumem"
HAMI_CORES = "nvidia.com/gpucores"
HAMI_GPU = "nvidia.com/gpu"
TIME_SLICED = "nvidia.com/gpu.shared"
HAMI_REGISTER_ANNOTATION = "hami.io/node-nvidia-register"
HAMI_TO_ALLOCATE_ANNOTATION = "hami.io/vgpu-devices-to-allocate"
HAMI_ALLOCATED_ANNOTATION = "hami.io/vgpu-devices-allocated"
HAMI_NODE_ANNOTATION = "hami.io/vgpu-node"
HAMI_PHASE_ANNOTATION = "hami.io/bind-phase"
HAMI_TIME_ANNOTATION = "hami.io/bind-time"


class ShareStack(StrEnum):
    """Who enforces a device share on a node, most isolating first."""

    HAMI = "hami"
    TIME_SLICING = "time-slicing"
    SUANLI = "suanli"


# The order an operator prefers when a job's nodes offer several: HAMi limits memory and
# compute, time-slicing at least hands out a device, Suanli's annotation needs its own plugin.
PREFERENCE: tuple[ShareStack, ...] = (ShareStack.HAMI, ShareStack.TIME_SLICING, ShareStack.SUANLI)


def node_stack(allocatable: Resources) -> ShareStack:
    """The stack a node runs, from the resources it advertises (what kube-scheduler fits)."""
    if allocatable.amount(HAMI_MEMORY) > 0:
        return ShareStack.HAMI
    if allocatable.amount(TIME_SLICED) > 0:
        return ShareStack.TIME_SLICING
    return ShareStack.SUANLI


def pod_stack(requests: Resources) -> ShareStack:
    """The stack a share pod was written for, from the resources it requests."""
    if HAMI_MEMORY in requests or HAMI_CORES in requests:
        return ShareStack.HAMI
    if TIME_SLICED in requests:
        return ShareStack.TIME_SLICING
    return ShareStack.SUANLI


def hami_uuids(register: str | None) -> tuple[str, ...]:
    """Device UUIDs in registration order from `hami.io/node-nvidia-register`: entries end in
    `:`, each starting with the UUID, then split count, MiB, cores, type, NUMA, health."""
    if not register:
        return ()
    entries = (item.strip() for item in register.split(":"))
    return tuple(entry.split(",", 1)[0].strip() for entry in entries if entry)


def hami_devices(uuid: str, memory_mib: int, cores: int) -> str:
    """HAMi's device list for one container with one device: `uuid,NVIDIA,MiB,cores:;`
    (`:` ends a device, `;` a container)."""
    return f"{uuid},NVIDIA,{memory_mib},{cores}:;"


def hami_annotations(
    node: str,
    allocation: Allocation,
    requests: Resources,
    node_annotations: Mapping[str, str],
    now: float,
) -> dict[str, str]:
    """What HAMi's device plugin reads to hand a share pod the device Suanli chose: the device
    list (to allocate, and as allocated), the node it was chosen on, and the bind phase. Empty
    when the node registered no device at the chosen index (the plugin could not be told)."""
    uuids = hami_uuids(node_annotations.get(HAMI_REGISTER_ANNOTATION))
    if len(allocation) != 1 or not 0 <= allocation[0][0] < len(uuids):
        return {}
    devices = hami_devices(
        uuids[allocation[0][0]], requests.amount(HAMI_MEMORY), requests.amount(HAMI_CORES)
    )
    return {
        HAMI_TO_ALLOCATE_ANNOTATION: devices,
        HAMI_ALLOCATED_ANNOTATION: devices,
        HAMI_NODE_ANNOTATION: node,
        HAMI_PHASE_ANNOTATION: "allocating",
        HAMI_TIME_ANNOTATION: str(int(now)),
    }
