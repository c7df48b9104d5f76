"""Small traces and the scoring files for replay tests."""

from __future__ import annotations

import pytest

from suanli.scoring import Catalog, LatencyMap
from suanli.simulate.run import RunSpec, load_scoring_files
from suanli.simulate.trace import NodeRow, PodRow

GIB = 1024


def share(name: str, milli: int, *spec: str, cpu: int = 1000, memory: int = 2 * GIB) -> PodRow:
    return PodRow(name, cpu, memory, 1, milli, tuple(spec))


def whole(name: str, count: int, *spec: str, cpu: int = 4000, memory: int = 8 * GIB) -> PodRow:
    return PodRow(name, cpu, memory, count, 1000, tuple(spec))


def cpu_only(name: str, cpu: int = 2000, memory: int = 4 * GIB) -> PodRow:
    return PodRow(name, cpu, memory, 0, 0)


SMALL_NODES = (
    NodeRow("a-t4", 32_000, 128 * GIB, 2, "T4"),
    NodeRow("b-v100", 64_000, 256 * GIB, 4, "V100"),
    NodeRow("c-v100", 64_000, 256 * GIB, 4, "V100"),
    NodeRow("d-cpu", 16_000, 64 * GIB, 0, ""),
)


@pytest.fixture(scope="session")
def scoring_files() -> tuple[Catalog, LatencyMap]:
    return load_scoring_files(RunSpec(SMALL_NODES, (cpu_only("x"),)))
