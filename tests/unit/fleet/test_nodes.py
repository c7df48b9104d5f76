"""Node objects carry the labels and capacity that real clusters' labellers write."""

import pytest

from suanli.fleet import default_fleet, node_manifests, parse_fleet
from suanli.fleet.nodes import KWOK_NODE_ANNOTATION


def _nodes(pool: dict[str, object]) -> list[dict]:  # type: ignore[type-arg]
    return list(node_manifests(parse_fleet({"pools": [{"name": "p", "count": 2, **pool}]})))


def test_nvidia_pool_has_gfd_labels_and_gpu_capacity() -> None:
    nodes = _nodes(
        {
            "gpu": {
                "product": "NVIDIA-H100-80GB-HBM3",
                "count": 8,
                "memoryMiB": 81559,
                "family": "hopper",
            },
            "region": "us-east-1",
            "zone": "us-east-1a",
        }
    )
    assert [n["metadata"]["name"] for n in nodes] == ["p-0", "p-1"]
    labels = nodes[0]["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert labels["nvidia.com/gpu.memory"] == "81559"
    assert labels["nvidia.com/gpu.count"] == "8"
    assert labels["nvidia.com/gpu.family"] == "hopper"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert labels["suanli.dev/tier"] == "cloud"
    assert "node-role.kubernetes.io/edge" not in labels
    assert nodes[0]["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert nodes[0]["status"]["allocatable"] == nodes[0]["status"]["capacity"]
    assert nodes[0]["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"


def test_vendor_resources() -> None:
    amd = _nodes(
        {
            "gpu": {
                "vendor": "amd",
                "product": "AMD-Instinct-MI300X",
                "count": 8,
                "memoryMiB": 196608,
            }
        }
    )
    assert amd[0]["status"]["capacity"]["amd.com/gpu"] == "8"
    assert amd[0]["metadata"]["labels"]["amd.com/gpu.product-name"] == "AMD-Instinct-MI300X"
    assert amd[0]["metadata"]["labels"]["amd.com/gpu.vram"] == "192G"


@pytest.mark.parametrize(
    ("gpu", "resource", "labels"),
    [
        (
            {"vendor": "huawei", "product": "910B3", "count": 8, "memoryMiB": 65536},
            "huawei.com/Ascend910",
            {"node.kubernetes.io/npu.chip.name": "910B3", "accelerator": "huawei-Ascend910"},
        ),
        (
            {
                "vendor": "huawei",
                "product": "310P3",
                "count": 4,
                "memoryMiB": 24576,
                "resource": "huawei.com/Ascend310P",
            },
            "huawei.com/Ascend310P",
            {"node.kubernetes.io/npu.chip.name": "310P3", "accelerator": "huawei-Ascend310P"},
        ),
        (
            {"vendor": "cambricon", "product": "MLU370-X8", "count": 8, "memoryMiB": 49152},
            "cambricon.com/mlu",
            {"Model": "MLU370-X8"},
        ),
        (
            {"vendor": "hygon", "product": "K100_AI", "count": 8, "memoryMiB": 65536},
            "hygon.com/dcu",
            {"hygon.com/dcu": "true", "hygon.com/dcu.name": "K100_AI", "hygon.com/dcu.vram": "64G"},
        ),
    ],
)
def test_domestic_accelerators_carry_their_labellers_labels(
    gpu: dict[str, object], resource: str, labels: dict[str, str]
) -> None:
    node = _nodes({"gpu": gpu})[0]
    assert node["status"]["capacity"][resource] == str(gpu["count"])
    assert labels.items() <= node["metadata"]["labels"].items()


def test_hpc_pool_has_nfd_labels_rdma_and_racks_round_robin() -> None:
    nodes = _nodes(
        {
            "count": 3,
            "hpc": {
                "interconnect": "infiniband",
                "rdma": True,
                "cpuFeatures": ["AVX512F"],
                "racks": ["rack-1", "rack-2"],
                "block": "b1",
            },
        }
    )
    racks = [n["metadata"]["labels"]["suanli.dev/rack"] for n in nodes]
    assert racks == ["rack-1", "rack-2", "rack-1"]
    labels = nodes[0]["metadata"]["labels"]
    assert labels["feature.node.kubernetes.io/cpu-cpuid.AVX512F"] == "true"
    assert labels["feature.node.kubernetes.io/rdma.capable"] == "true"
    assert labels["suanli.dev/interconnect"] == "infiniband"
    assert labels["suanli.dev/block"] == "b1"
    assert nodes[0]["status"]["capacity"]["rdma/hca_shared_devices_a"] == "1000"


def test_edge_pool_carries_kubeedge_and_openyurt_markers() -> None:
    labels = _nodes({"tier": "edge", "site": "sh-edge-1", "nodepool": "shanghai"})[0]["metadata"][
        "labels"
    ]
    assert labels["suanli.dev/tier"] == "edge"
    assert labels["suanli.dev/site"] == "sh-edge-1"
    assert labels["node-role.kubernetes.io/edge"] == ""
    assert labels["openyurt.io/is-edge-worker"] == "true"
    assert labels["apps.openyurt.io/nodepool"] == "shanghai"


def test_pool_taints_go_on_every_node() -> None:
    taint = {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"}
    nodes = _nodes({"tier": "edge", "taints": [taint]})
    assert [n["spec"] for n in nodes] == [{"taints": [taint]}] * 2
    assert _nodes({})[0]["spec"] == {}


def test_demo_edge_nodes_are_tainted_as_kubeedge_taints_them() -> None:
    fleet = list(node_manifests(default_fleet()))
    tainted = {n["metadata"]["labels"]["suanli.dev/pool"] for n in fleet if n["spec"]}
    assert tainted == {"edge-sh", "edge-bj", "device-sh"}


def test_price_annotation_and_extra_labels() -> None:
    node = _nodes({"pricePerHour": 3.5, "labels": {"team": "ml"}})[0]
    assert node["metadata"]["annotations"]["suanli.dev/price-per-hour"] == "3.5"
    assert node["metadata"]["labels"]["team"] == "ml"


T4 = {"product": "Tesla-T4", "count": 2, "memoryMiB": 15360}
SHARING = [
    (
        "hami",
        {
            "nvidia.com/gpu": "8",
            "nvidia.com/gpumem": "30720",
            "nvidia.com/gpucores": "200",
        },
        "Tesla-T4",
    ),
    ("time-slicing", {"nvidia.com/gpu.shared": "8"}, "Tesla-T4-SHARED"),
]


@pytest.mark.parametrize(("sharing", "devices", "product"), SHARING, ids=[s[0] for s in SHARING])
def test_sharing_pools_advertise_their_stack(
    sharing: str, devices: dict[str, str], product: str
) -> None:
    (node, *_) = _nodes({"gpu": {**T4, "sharing": sharing, "replicas": 4}})
    capacity = node["status"]["capacity"]
    assert {k: v for k, v in capacity.items() if k.startswith("nvidia.com/")} == devices
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == product
    assert node["metadata"]["labels"]["nvidia.com/gpu.count"] == "2"
    register = node["metadata"]["annotations"].get("hami.io/node-nvidia-register")
    if sharing == "hami":
        assert register == (
            "GPU-p-0-0,4,15360,100,NVIDIA-Tesla-T4,0,true:"
            "GPU-p-0-1,4,15360,100,NVIDIA-Tesla-T4,0,true:"
        )
    else:
        assert register is None


def test_sharing_is_for_nvidia_pools() -> None:
    with pytest.raises(ValueError, match="sharing 'hami' is an NVIDIA stack"):
        _nodes(
            {
                "gpu": {
                    "vendor": "amd",
                    "product": "MI300X",
                    "count": 8,
                    "memoryMiB": 1,
                    "sharing": "hami",
                }
            }
        )
