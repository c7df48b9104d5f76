from __future__ import annotations

from typing import Any

import pytest

from suanli.scoring import Catalog, CatalogError, Vendor, parse_catalog


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        # Exact aliases, as the labellers write them.
        ("NVIDIA-H100-80GB-HBM3", "H100"),
        ("NVIDIA-A100-SXM4-80GB", "A100"),
        ("NVIDIA-A100-SXM4-40GB", "A100"),
        ("Tesla-T4", "T4"),
        ("NVIDIA-L40S", "L40S"),
        ("NVIDIA-L4", "L4"),
        ("NVIDIA-A2", "A2"),
        ("AMD-Instinct-MI300X", "MI300X"),
        ("Ascend910B", "Ascend910B"),
        ("MLU370-X8", "MLU370"),
        ("DCU-Z100", "Z100"),
        # Vendor labellers: Ascend chip names, Hygon DCU names.
        ("910B3", "Ascend910B"),
        ("310P3", "Ascend310P"),
        ("310", "Ascend310"),
        ("K100_AI", "K100-AI"),
        # Canonical names and case differences.
        ("H100", "H100"),
        ("nvidia-h100-80gb-hbm3", "H100"),
        ("tesla-t4", "T4"),
        # Token fallback for values the catalog does not list.
        ("NVIDIA-H100-PCIe-94GB", "H100"),
        ("Tesla-T4-SHARED", "T4"),  # GPU time-slicing renames the product
        ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "A100"),
        ("NVIDIA-GeForce-RTX-4090-D", "RTX-4090"),
        ("NVIDIA-L40S-SHARED", "L40S"),  # L40S is its own token, not L40
        # Unknown or ambiguous: None rather than a guess.
        ("NVIDIA-H100X", None),
        ("Quadro-P4000", None),
        ("", None),
        (None, None),
    ],
)
def test_resolve(catalog: Catalog, label: str | None, expected: str | None) -> None:
    resolved = catalog.resolve(label)
    assert (resolved.name if resolved else None) == expected


def test_ambiguous_token_match_is_none(catalog: Catalog) -> None:
    assert catalog.resolve("H100-vs-A100-bundle") is None


def test_default_catalog_covers_the_fleet(catalog: Catalog, fleet: list[dict[str, Any]]) -> None:
    for node in fleet:
        labels = node["metadata"]["labels"]
        product = (
            labels.get("nvidia.com/gpu.product")
            or labels.get("amd.com/gpu.product-name")
            or labels.get("node.kubernetes.io/npu.chip.name")
            or labels.get("hygon.com/dcu.name")
            or labels.get("Model")
            or labels.get("suanli.dev/accelerator.product")
        )
        if product:
            assert catalog.resolve(product) is not None, product


def test_default_catalog_shape(catalog: Catalog) -> None:
    h100 = catalog.get("H100")
    assert h100 is not None
    assert h100.performance == 1.0
    assert h100.vendor is Vendor.NVIDIA
    for name in ("H200", "B200", "A10", "V100", "L40", "RTX-4090", "MLU370", "Z100", "MI300X"):
        assert catalog.get(name) is not None, name
    assert catalog.get("NVIDIA-H100-80GB-HBM3") is None  # get takes canonical names only


@pytest.mark.parametrize(
    ("name", "resource"),
    [
        ("H100", "nvidia.com/gpu"),
        ("MI300X", "amd.com/gpu"),
        ("Ascend910B", "huawei.com/Ascend910"),
        ("Ascend910", "huawei.com/Ascend910"),
        ("Ascend310P", "huawei.com/Ascend310P"),
        ("Ascend310", "huawei.com/Ascend310"),
        ("MLU590", "cambricon.com/mlu"),
        ("K100-AI", "hygon.com/dcu"),
    ],
)
def test_each_type_knows_its_device_resource(catalog: Catalog, name: str, resource: str) -> None:
    known = catalog.get(name)
    assert known is not None
    assert known.resource == resource


_GOOD = {"name": "X1", "vendor": "nvidia", "memoryGiB": 8, "performance": 0.1, "pricePerHour": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"types": [{**_GOOD, "pricePerHour": -1}]}, r"types\[0\]\(X1\)\.pricePerHour"),
        ({"types": [{**_GOOD, "memoryGib": 8}]}, r"types\[0\]\(X1\)\.memoryGib: unknown field"),
        ({"types": [{**_GOOD, "vendor": "intel"}]}, r"types\[0\]\(X1\)\.vendor"),
        ({"types": []}, r"types: "),
        (
            {"types": [{**_GOOD, "resource": "huawei.com/Ascend310P"}]},
            r"types\[0\]\(X1\): resource 'huawei.com/Ascend310P' is not a nvidia device resource",
        ),
        ({"kind": "Fleet", "types": [_GOOD]}, r"kind"),
        ({"types": [_GOOD, {**_GOOD, "aliases": ["x1"]}]}, r"already a name or alias of X1"),
        ({"types": [_GOOD, _GOOD]}, r"types\[1\]\(X1\)\.name"),
        (
            {"types": [{**_GOOD, "aliases": ["A"]}, {**_GOOD, "name": "X2", "aliases": ["a"]}]},
            r"types\[1\]\(X2\)\.aliases: 'a' is already a name or alias of X1",
        ),
    ],
)
def test_invalid_catalog_names_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_invalid_yaml() -> None:
    with pytest.raises(CatalogError, match="not valid YAML"):
        parse_catalog("types: [")
    with pytest.raises(CatalogError, match="expected a mapping"):
        parse_catalog("- a")
