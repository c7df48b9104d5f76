"""Scaling a fleet keeps its mix and hits the asked node count exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.fleet import FleetError, default_fleet, scale_fleet


@pytest.mark.parametrize("nodes", [14, 50, 100, 1000, 5000, 5003])
def test_scaled_fleet_has_exact_count_and_every_pool(nodes: int) -> None:
    fleet = default_fleet()
    scaled = scale_fleet(fleet, nodes)
    assert scaled.node_count == nodes
    assert all(pool.count >= 1 for pool in scaled.pools)


def test_proportions_are_kept() -> None:
    scaled = scale_fleet(default_fleet(), 5000)
    counts = {pool.name: pool.count for pool in scaled.pools}
    assert counts["hpc-ib"] == 800
    assert counts["mi300x-euw1"] == 200


def test_too_few_nodes_is_refused() -> None:
    with pytest.raises(FleetError, match="at least 14 nodes"):
        scale_fleet(default_fleet(), 5)


@given(st.integers(min_value=14, max_value=20_000))
def test_any_target_is_met_exactly(nodes: int) -> None:
    scaled = scale_fleet(default_fleet(), nodes)
    assert scaled.node_count == nodes
    assert min(pool.count for pool in scaled.pools) >= 1
