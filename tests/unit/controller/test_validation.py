"""The catalog-dependent checks the webhook runs: each problem names its field and its fix."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.api import ComputeJob
from suanli.configfiles import ScoringConfigFiles
from suanli.controller.validation import catalog_problems
from tests.unit.controller.conftest import example

CATALOG = ScoringConfigFiles(None, None).catalog


def _job(accelerators: dict[str, Any], cost: dict[str, Any] | None = None) -> ComputeJob:
    job, _ = example("training-gang.yaml")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["spec"]["tasks"][0]["accelerators"] = accelerators
    if cost is None:
        body["spec"].pop("cost", None)
    else:
        body["spec"]["cost"] = cost
    return ComputeJob.model_validate(body)


def test_examples_pass() -> None:
    for name in ("training-gang.yaml", "mpi-hpc.yaml", "edge-inference.yaml", "batch-cpu.yaml"):
        assert catalog_problems(example(name)[0], CATALOG) == [], name


@pytest.mark.parametrize(
    ("accelerators", "cost", "field", "says"),
    [
        (
            {"count": 8, "types": ["H1000"]},
            None,
            "spec.tasks[0].accelerators.types[0]",
            "unknown accelerator type 'H1000'",
        ),
        (
            {"count": 1, "types": ["H100", "Ascend910B"]},
            None,
            "spec.tasks[0].accelerators.types",
            "H100 uses nvidia.com/gpu, Ascend910B uses huawei.com/Ascend910",
        ),
        (
            # One vendor, two device plugins' resources: as unplaceable as two vendors.
            {"count": 1, "types": ["Ascend910B", "Ascend310P"]},
            None,
            "spec.tasks[0].accelerators.types",
            "Ascend310P uses huawei.com/Ascend310P",
        ),
        (
            {"count": 8, "types": ["H100"]},
            {"maxPricePerHour": 5},
            "spec.cost.maxPricePerHour",
            "below the cheapest",
        ),
        (
            {"count": 8, "types": []},
            {"maxPricePerHour": 0.5},
            "spec.cost.maxPricePerHour",
            "raise the ceiling",
        ),
    ],
)
def test_problems_name_the_field(
    accelerators: dict[str, Any], cost: dict[str, Any] | None, field: str, says: str
) -> None:
    problems = catalog_problems(_job(accelerators, cost), CATALOG)
    assert len(problems) == 1
    assert problems[0].startswith(field)
    assert says in problems[0]


@pytest.mark.parametrize(
    "types",
    [
        ["Ascend910B", "Ascend910"],  # two Huawei types, one resource: huawei.com/Ascend910
        ["MLU590", "MLU370"],
        ["K100-AI", "Z100"],
        ["MI300X", "MI250X"],
    ],
)
def test_types_of_one_resource_pass(types: list[str]) -> None:
    assert catalog_problems(_job({"count": 1, "types": types}), CATALOG) == []


def test_spot_billing_makes_a_ceiling_reachable() -> None:
    on_demand = _job(
        {"count": 1, "types": ["H100"]}, {"maxPricePerHour": 6, "billing": "on-demand"}
    )
    spot = _job({"count": 1, "types": ["H100"]}, {"maxPricePerHour": 6, "billing": "spot"})
    assert catalog_problems(on_demand, CATALOG)
    assert catalog_problems(spot, CATALOG) == []


@pytest.mark.parametrize(
    ("accelerators", "refused"),
    [
        pytest.param({"count": 1, "types": ["H100"]}, True, id="whole-device-above-ceiling"),
        pytest.param({"share": 0.25, "types": ["H100"]}, False, id="share-pays-its-fraction"),
        pytest.param({"memoryGiB": 20, "types": ["H100"]}, False, id="memory-share-its-part"),
        pytest.param({"memoryGiB": 70, "types": ["H100"]}, True, id="big-memory-share"),
    ],
)
def test_a_share_pays_its_fraction_against_the_ceiling(
    accelerators: dict[str, object], refused: bool
) -> None:
    job = _job(accelerators, {"maxPricePerHour": 4, "billing": "on-demand"})  # H100 12.29/h
    assert bool(catalog_problems(job, CATALOG)) is refused
