"""Turn a fleet into Node objects carrying the labels and capacity real clusters show.

Accelerator labels follow each vendor's labeller (NVIDIA GPU Feature Discovery, the AMD labeller,
the Ascend device plugin, Cambricon's device plugin labeller, Hygon's DCU-Label-Node), CPU and
RDMA features follow Node Feature Discovery, edge markers follow KubeEdge and OpenYurt, topology
uses the well-known `topology.kubernetes.io/*` keys; our own facts live under `suanli.dev/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from suanli.fleet.inventory import (
    Fleet,
    GpuSharing,
    GpuSpec,
    GpuVendor,
    HpcSpec,
    NodePool,
    Tier,
)
from suanli.keys import (
    BLOCK_LABEL,
    FLEET_POOL_LABEL,
    INTERCONNECT_LABEL,
    PRICE_ANNOTATION,
    RACK_LABEL,
    SITE_LABEL,
    TIER_LABEL,
)

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
RDMA_RESOURCE = "rdma/hca_shared_devices_a"
RDMA_DEVICES_PER_NODE = 1000

# The extended resource each vendor's device plugin advertises.
GPU_RESOURCE: dict[GpuVendor, str] = {
    GpuVendor.NVIDIA: "nvidia.com/gpu",
    GpuVendor.AMD: "amd.com/gpu",
    GpuVendor.HUAWEI: "huawei.com/Ascend910",
    GpuVendor.CAMBRICON: "cambricon.com/mlu",
    GpuVendor.HYGON: "hygon.com/dcu",
}


def gpu_resource(gpu: GpuSpec) -> str:
    return gpu.resource or GPU_RESOURCE[gpu.vendor]


def _gpu_labels(gpu: GpuSpec) -> dict[str, str]:
    if gpu.vendor is GpuVendor.NVIDIA:
        labels = {
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": gpu.product,
            "nvidia.com/gpu.count": str(gpu.count),
            "nvidia.com/gpu.memory": str(gpu.memory_mib),
        }
        if gpu.family:
            labels["nvidia.com/gpu.family"] = gpu.family
        if gpu.sharing is GpuSharing.TIME_SLICING:
            # GPU Feature Discovery on a time-sliced node: the replicas, and the product marked.
            labels["nvidia.com/gpu.replicas"] = str(gpu.replicas)
            labels["nvidia.com/gpu.product"] = f"{gpu.product}-SHARED"
        return labels
    if gpu.vendor is GpuVendor.AMD:
        return {
            "amd.com/gpu.product-name": gpu.product,
            "amd.com/gpu.vram": f"{max(1, gpu.memory_mib // 1024)}G",
            "amd.com/gpu.count": str(gpu.count),
        }
    if gpu.vendor is GpuVendor.HUAWEI:
        # The Ascend device plugin names the chip (910B3, 310P3); `accelerator` is the label its
        # deployment guide has operators set, one value per device resource.
        return {
            "node.kubernetes.io/npu.chip.name": gpu.product,
            "accelerator": "huawei-" + gpu_resource(gpu).removeprefix("huawei.com/"),
        }
    if gpu.vendor is GpuVendor.CAMBRICON:
        # The Cambricon device plugin's labeller writes bare keys.
        return {"Model": gpu.product}
    return {
        "hygon.com/dcu": "true",
        "hygon.com/dcu.name": gpu.product,
        "hygon.com/dcu.vram": f"{max(1, gpu.memory_mib // 1024)}G",
    }


def _hpc_labels(hpc: HpcSpec, index: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    if hpc.interconnect:
        labels[INTERCONNECT_LABEL] = hpc.interconnect.value
    if hpc.rdma:
        labels["feature.node.kubernetes.io/rdma.capable"] = "true"
        labels["feature.node.kubernetes.io/network-sriov.capable"] = "true"
    for feature in hpc.cpu_features:
        labels[f"feature.node.kubernetes.io/cpu-cpuid.{feature}"] = "true"
    if hpc.racks:
        labels[RACK_LABEL] = hpc.racks[index % len(hpc.racks)]
    if hpc.block:
        labels[BLOCK_LABEL] = hpc.block
    return labels


def _location_labels(pool: NodePool) -> dict[str, str]:
    labels = {TIER_LABEL: pool.tier.value}
    if pool.region:
        labels["topology.kubernetes.io/region"] = pool.region
    if pool.zone:
        labels["topology.kubernetes.io/zone"] = pool.zone
    if pool.site:
        labels[SITE_LABEL] = pool.site
    if pool.tier is not Tier.CLOUD:
        labels["node-role.kubernetes.io/edge"] = ""
        labels["openyurt.io/is-edge-worker"] = "true"
    if pool.nodepool:
        labels["apps.openyurt.io/nodepool"] = pool.nodepool
    return labels


def node_labels(pool: NodePool, index: int, name: str) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        FLEET_POOL_LABEL: pool.name,
        **_location_labels(pool),
    }
    if pool.gpu:
        labels.update(_gpu_labels(pool.gpu))
    if pool.hpc:
        labels.update(_hpc_labels(pool.hpc, index))
    labels.update(pool.labels)
    return labels


def _gpu_capacity(gpu: GpuSpec) -> dict[str, str]:
    """What the pool's device plugin advertises: whole devices, HAMi's vGPUs with their memory
    and compute, or time-slicing's renamed replicas."""
    if gpu.sharing is GpuSharing.HAMI:
        return {
            "nvidia.com/gpu": str(gpu.count * gpu.replicas),
            "nvidia.com/gpumem": str(gpu.count * gpu.memory_mib),
            "nvidia.com/gpucores": str(gpu.count * 100),
        }
    if gpu.sharing is GpuSharing.TIME_SLICING:
        return {"nvidia.com/gpu.shared": str(gpu.count * gpu.replicas)}
    return {gpu_resource(gpu): str(gpu.count)}


def hami_register(gpu: GpuSpec, name: str) -> str:
    """HAMi's device registration of a node: per device its UUID, split count, MiB, cores,
    type, NUMA node and health, each entry ended by `:`. The UUIDs are made up per node."""
    entries = (
        f"GPU-{name}-{index},{gpu.replicas},{gpu.memory_mib},100,NVIDIA-{gpu.product},0,true:"
        for index in range(gpu.count)
    )
    return "".join(entries)


def node_capacity(pool: NodePool) -> dict[str, str]:
    capacity = {
        "cpu": pool.cpu,
        "memory": pool.memory,
        "pods": str(pool.pods),
        "ephemeral-storage": pool.ephemeral_storage,
    }
    if pool.gpu:
        capacity.update(_gpu_capacity(pool.gpu))
    if pool.hpc and pool.hpc.rdma:
        capacity[RDMA_RESOURCE] = str(RDMA_DEVICES_PER_NODE)
    return capacity


def node_name(pool: NodePool, index: int) -> str:
    return f"{pool.name}-{index}"


def node_manifest(pool: NodePool, index: int) -> dict[str, Any]:
    name = node_name(pool, index)
    annotations = {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"}
    if pool.price_per_hour is not None:
        annotations[PRICE_ANNOTATION] = f"{pool.price_per_hour:g}"
    if pool.gpu and pool.gpu.sharing is GpuSharing.HAMI:
        annotations["hami.io/node-nvidia-register"] = hami_register(pool.gpu, name)
    capacity = node_capacity(pool)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels(pool, index, name),
            "annotations": annotations,
        },
        "spec": {"taints": [t.model_dump(mode="json", exclude_defaults=True) for t in pool.taints]}
        if pool.taints
        else {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
        },
    }


def node_manifests(fleet: Fleet) -> Iterator[dict[str, Any]]:
    for pool in fleet.pools:
        for index in range(pool.count):
            yield node_manifest(pool, index)
