"""The web view benchmark's fleet: the size asked, devices held whole and in shares."""

from __future__ import annotations

import pytest
from ui import build_model

from suanli.view import fleet_rows, node_cells


@pytest.mark.parametrize("size", [50, 150])
def test_bench_fleet_is_the_size_asked_and_part_used(size: int) -> None:
    model = build_model(size)
    view = model.view()
    assert len(view["nodes"]) == size
    rows = fleet_rows(node_cells(model.feed.state))
    devices = sum(r.devices for r in rows)
    allocated = sum(r.allocated for r in rows)
    # Roughly half the devices held, and some of them as shares (fragmented devices).
    assert 0.2 * devices < allocated < 0.8 * devices
    assert sum(r.fragmented for r in rows) > 0
    assert len(view["jobs"]) == size // 25 + 1
