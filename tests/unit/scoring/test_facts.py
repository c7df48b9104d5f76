from __future__ import annotations

from typing import Any

import pytest

from suanli.scoring import Catalog, QuantityError, Tier, Vendor, node_facts
from suanli.scoring.facts import Domain, NodeFacts

from .helpers import gpu_node, node


def _fleet_node(fleet: list[dict[str, Any]], catalog: Catalog, name: str) -> NodeFacts:
    return node_facts(next(n for n in fleet if n["metadata"]["name"] == name), catalog)


def test_h100_node(fleet: list[dict[str, Any]], catalog: Catalog) -> None:
    facts = _fleet_node(fleet, catalog, "h100-use1-1")
    accelerator = facts.accelerator
    assert accelerator is not None
    assert accelerator.type is not None
    assert (accelerator.type.name, accelerator.vendor, accelerator.count) == ("H100", "nvidia", 8)
    assert accelerator.memory_gib == pytest.approx(81559 / 1024)
    assert accelerator.resource == "nvidia.com/gpu"
    assert facts.interconnect == "infiniband"
    assert facts.rdma
    assert facts.cpu_features == {"AVX512F", "AVX512BW", "AMXTILE"}
    assert (facts.rack, facts.block) == ("rack-h2", "block-gpu")
    assert (facts.zone, facts.region, facts.site) == ("us-east-1a", "us-east-1", None)
    assert facts.tier is Tier.CLOUD
    assert facts.price_per_hour == 98.32
    assert facts.allocatable.amount("cpu") == 192_000
    assert facts.allocatable.amount("memory") == 2 * 2**40
    assert facts.allocatable.amount("pods") == 110
    assert facts.allocatable.amount("rdma/hca_shared_devices_a") == 1000
    assert facts.domain(Domain.NODE) == "h100-use1-1"
    assert facts.domain(Domain.RACK) == "rack-h2"


@pytest.mark.parametrize(
    ("name", "type_name", "vendor", "resource", "memory"),
    [
        ("mi300x-euw1-0", "MI300X", Vendor.AMD, "amd.com/gpu", 192),
        ("ascend-cnn1-0", "Ascend910B", Vendor.HUAWEI, "huawei.com/Ascend910", 64),
        ("ascend310p-cnn1-0", "Ascend310P", Vendor.HUAWEI, "huawei.com/Ascend310P", 24),
        ("mlu370-cnn1-0", "MLU370", Vendor.CAMBRICON, "cambricon.com/mlu", 48),
        ("dcu-cnn1-0", "K100-AI", Vendor.HYGON, "hygon.com/dcu", 64),
        ("edge-sh-0", "L4", Vendor.NVIDIA, "nvidia.com/gpu", 23034 / 1024),
        ("t4-usw2-0", "T4", Vendor.NVIDIA, "nvidia.com/gpu", 15),
    ],
)
def test_vendor_labels(
    *,
    fleet: list[dict[str, Any]],
    catalog: Catalog,
    name: str,
    type_name: str,
    vendor: Vendor,
    resource: str,
    memory: float,
) -> None:
    accelerator = _fleet_node(fleet, catalog, name).accelerator
    assert accelerator is not None
    assert accelerator.type is not None
    assert accelerator.type.name == type_name
    assert (accelerator.vendor, accelerator.resource) == (vendor, resource)
    assert accelerator.memory_gib == pytest.approx(memory)


@pytest.mark.parametrize(
    ("labels", "allocatable", "type_name", "resource", "memory"),
    [
        # The Ascend device plugin's chip name; the resource is what the node advertises.
        (
            {"node.kubernetes.io/npu.chip.name": "310P3"},
            {"huawei.com/Ascend310P": "4"},
            "Ascend310P",
            "huawei.com/Ascend310P",
            24,
        ),
        # Before the plugin advertises anything, the type's own resource, not the vendor's first.
        ({"node.kubernetes.io/npu.chip.name": "310"}, {}, "Ascend310", "huawei.com/Ascend310", 8),
        (
            {"node.kubernetes.io/npu.chip.name": "910B3"},
            {},
            "Ascend910B",
            "huawei.com/Ascend910",
            64,
        ),
        # Hygon's DCU-Label-Node: name and VRAM (the label's memory wins over the catalog's).
        (
            {"hygon.com/dcu": "true", "hygon.com/dcu.name": "Z100L", "hygon.com/dcu.vram": "16G"},
            {"hygon.com/dcu": "8"},
            "Z100",
            "hygon.com/dcu",
            16,
        ),
        # Cambricon's labeller writes a bare `Model`, read on nodes with Cambricon devices.
        ({"Model": "MLU590-M9"}, {"cambricon.com/mlu": "8"}, "MLU590", "cambricon.com/mlu", 80),
        # Our own keys still work where no vendor labeller runs.
        (
            {
                "suanli.dev/accelerator.vendor": "cambricon",
                "suanli.dev/accelerator.product": "MLU370-X4",
            },
            {},
            "MLU370",
            "cambricon.com/mlu",
            48,
        ),
    ],
)
def test_vendor_labellers(
    *,
    catalog: Catalog,
    labels: dict[str, str],
    allocatable: dict[str, str],
    type_name: str,
    resource: str,
    memory: float,
) -> None:
    accelerator = node_facts(node("n", labels, allocatable), catalog).accelerator
    assert accelerator is not None
    assert (accelerator.type_name, accelerator.resource) == (type_name, resource)
    assert accelerator.memory_gib == pytest.approx(memory)


def test_a_bare_model_label_without_cambricon_devices_names_nothing(catalog: Catalog) -> None:
    assert node_facts(node("n", {"Model": "MLU370-X8"}, {"cpu": "8"}), catalog).accelerator is None


@pytest.mark.parametrize(
    ("name", "tier", "site"),
    [
        ("edge-sh-0", Tier.EDGE, "sh-edge-1"),
        ("device-sh-2", Tier.DEVICE, "sh-edge-1"),
        ("cpu-use1-0", Tier.CLOUD, None),
    ],
)
def test_fleet_tiers(
    fleet: list[dict[str, Any]], catalog: Catalog, name: str, tier: Tier, site: str | None
) -> None:
    facts = _fleet_node(fleet, catalog, name)
    assert (facts.tier, facts.site) == (tier, site)


@pytest.mark.parametrize(
    ("labels", "tier"),
    [
        ({}, Tier.CLOUD),
        ({"node-role.kubernetes.io/edge": ""}, Tier.EDGE),  # KubeEdge
        ({"openyurt.io/is-edge-worker": "true"}, Tier.EDGE),  # OpenYurt
        ({"openyurt.io/is-edge-worker": "false"}, Tier.CLOUD),
        ({"suanli.dev/tier": "device", "node-role.kubernetes.io/edge": ""}, Tier.DEVICE),
        ({"suanli.dev/tier": "moon", "node-role.kubernetes.io/edge": ""}, Tier.EDGE),
    ],
)
def test_tier_markers(catalog: Catalog, labels: dict[str, str], tier: Tier) -> None:
    assert node_facts(node("n", labels), catalog).tier is tier


@pytest.mark.parametrize(
    ("price", "product", "count", "expected"),
    [
        (3.5, "Tesla-T4", 4, 3.5),  # the annotation wins
        (None, "Tesla-T4", 4, 4 * 0.53),  # else catalog price x device count
        (None, "Mystery-GPU", 4, 0.0),  # else nothing known
    ],
)
def test_price(
    catalog: Catalog, price: float | None, product: str, count: int, expected: float
) -> None:
    facts = node_facts(gpu_node("n", product, count, 15360, price), catalog)
    assert facts.price_per_hour == pytest.approx(expected)


def test_malformed_price_annotation_falls_back_to_catalog(catalog: Catalog) -> None:
    raw = gpu_node("n", "Tesla-T4", 2, 15360, None)
    raw["metadata"]["annotations"]["suanli.dev/price-per-hour"] = "cheap"
    assert node_facts(raw, catalog).price_per_hour == pytest.approx(2 * 0.53)


def test_memory_from_catalog_when_unlabelled(catalog: Catalog) -> None:
    raw = node("n", {"nvidia.com/gpu.product": "Tesla-T4"}, {"nvidia.com/gpu": "2"})
    accelerator = node_facts(raw, catalog).accelerator
    assert accelerator is not None
    assert (accelerator.memory_gib, accelerator.count) == (16, 2)


def test_devices_without_labeller_have_unknown_type(catalog: Catalog) -> None:
    raw = node("n", {}, {"cpu": "8", "cambricon.com/mlu": "4"})
    accelerator = node_facts(raw, catalog).accelerator
    assert accelerator is not None
    assert accelerator.type is None
    assert (accelerator.vendor, accelerator.count, accelerator.memory_gib) == ("cambricon", 4, None)


def test_type_of_another_vendor_is_not_trusted(catalog: Catalog) -> None:
    raw = node("n", {"amd.com/gpu.product-name": "H100"}, {"amd.com/gpu": "8"})
    accelerator = node_facts(raw, catalog).accelerator
    assert accelerator is not None
    assert accelerator.type is None


@pytest.mark.parametrize(("vram", "gib"), [("64G", 64), ("192G", 192), ("65536", 64), ("x", None)])
def test_amd_vram(catalog: Catalog, vram: str, gib: float | None) -> None:
    labels = {"amd.com/gpu.product-name": "AMD-Instinct-MI210", "amd.com/gpu.vram": vram}
    accelerator = node_facts(node("n", labels, {"amd.com/gpu": "1"}), catalog).accelerator
    assert accelerator is not None
    expected = 64 if gib is None else gib  # unreadable: the catalog's MI210 memory
    assert accelerator.memory_gib == expected


def test_rdma_and_features(catalog: Catalog) -> None:
    labels = {
        "feature.node.kubernetes.io/custom-rdma.capable": "true",
        "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
        "feature.node.kubernetes.io/cpu-cpuid.AVX2": "false",
        "suanli.dev/interconnect": "InfiniBand",
    }
    facts = node_facts(node("n", labels), catalog)
    assert facts.rdma
    assert facts.cpu_features == {"AVX512F"}
    assert facts.interconnect == "infiniband"
    assert node_facts(node("n", {}, {"rdma/hca_shared_devices_a": "10"}), catalog).rdma
    assert not node_facts(node("n"), catalog).rdma


def test_capacity_when_no_allocatable(catalog: Catalog) -> None:
    raw = {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}}
    assert node_facts(raw, catalog).allocatable.amount("cpu") == 4000


def test_bad_allocatable_names_the_node(catalog: Catalog) -> None:
    with pytest.raises(QuantityError, match=r"node n: status\.allocatable\.cpu"):
        node_facts(node("n", {}, {"cpu": "four"}), catalog)
