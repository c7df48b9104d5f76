from __future__ import annotations

from typing import Any

import pytest

from suanli.scoring import Catalog, LatencyMap, Snapshot

from .helpers import default_catalog, default_latency, fleet_nodes


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture(scope="session")
def latency() -> LatencyMap:
    return default_latency()


@pytest.fixture(scope="session")
def fleet() -> list[dict[str, Any]]:
    return fleet_nodes()


@pytest.fixture(scope="session")
def fleet_snapshot(fleet: list[dict[str, Any]], catalog: Catalog) -> Snapshot:
    return Snapshot.from_objects(fleet, [], catalog)
