"""The fleet file: what it accepts, and how it names what it refuses."""

from pathlib import Path

import pytest

from suanli.fleet import FleetError, default_fleet, load_fleet, parse_fleet


def _pool(**overrides: object) -> dict[str, object]:
    return {"name": "gpu", "count": 2, **overrides}


def test_default_fleet_has_every_kind_of_node() -> None:
    fleet = default_fleet()
    products = {pool.gpu.product for pool in fleet.pools if pool.gpu}
    assert {"NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "NVIDIA-L40S", "Tesla-T4"} <= products
    assert {"910B3", "310P3", "MLU370-X8", "K100_AI", "AMD-Instinct-MI300X"} <= products
    assert {pool.gpu.vendor.value for pool in fleet.pools if pool.gpu} == {
        "nvidia",
        "amd",
        "huawei",
        "cambricon",
        "hygon",
    }
    assert {pool.tier.value for pool in fleet.pools} == {"cloud", "edge", "device"}
    assert any(
        pool.hpc and pool.hpc.rdma and pool.hpc.racks and not pool.gpu for pool in fleet.pools
    )
    assert fleet.node_count == 50


@pytest.mark.parametrize(
    ("pool", "where", "says"),
    [
        (_pool(colour="red"), "pools[0](gpu).colour", "unknown field"),
        (_pool(cpu="12q"), "pools[0](gpu).cpu", "not a Kubernetes quantity"),
        (_pool(memory="lots"), "pools[0](gpu).memory", "not a Kubernetes quantity"),
        (_pool(count=-1), "pools[0](gpu).count", "greater than or equal to 0"),
        (_pool(name="GPU_pool"), "pools[0](GPU_pool).name", "not a DNS label"),
        (
            _pool(gpu={"product": "H100", "count": 0, "memoryMiB": 1}),
            "pools[0](gpu).gpu.count",
            "greater than or equal to 1",
        ),
        (
            _pool(gpu={"product": "H100", "count": 1, "memoryMiB": 1, "cout": 2}),
            "gpu.cout",
            "unknown",
        ),
        (
            _pool(gpu={"product": "bad value!", "count": 1, "memoryMiB": 1}),
            "gpu.product",
            "label value",
        ),
        (_pool(tier="orbit"), "pools[0](gpu).tier", "'cloud', 'edge' or 'device'"),
        (_pool(taints=[{"key": "edge", "effect": "Never"}]), "taints[0].effect", "'NoSchedule'"),
        (
            _pool(gpu={"product": "310P3", "count": 1, "memoryMiB": 1, "resource": "huawei.com/x"}),
            "pools[0](gpu).gpu",
            "not a nvidia device resource",
        ),
        (_pool(hpc={"cpuFeatures": ["avx512f"]}), "hpc.cpuFeatures", "CPUID feature name"),
    ],
)
def test_bad_field_is_named(pool: dict[str, object], where: str, says: str) -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet({"pools": [pool]}, "fleet.yaml")
    message = str(caught.value)
    assert where in message
    assert says in message


def test_duplicate_pool_names_are_refused() -> None:
    with pytest.raises(FleetError, match="appears twice"):
        parse_fleet({"pools": [_pool(), _pool()]})


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet({"pools": [_pool(cpu="x"), _pool(name="other", memory="y")]})
    assert "pools[0](gpu).cpu" in str(caught.value)
    assert "pools[1](other).memory" in str(caught.value)


def test_quantities_accept_kubernetes_forms() -> None:
    for value in ("96", "500m", "1.5", "512Gi", "1Ti", "2e3", 64):
        assert parse_fleet({"pools": [_pool(cpu=value)]}).pools[0].cpu == str(value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="cannot read fleet file"):
        load_fleet(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pools: [unclosed")
    with pytest.raises(FleetError, match="not valid YAML"):
        load_fleet(broken)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- 1\n")
    with pytest.raises(FleetError, match="expected a mapping"):
        load_fleet(not_mapping)
