from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.keys import DEMAND_ANNOTATION
from suanli.scoring import Billing, DemandError, Domain, Tier, parse_demand_annotation, parse_pod

from .helpers import pod


def test_full_annotation() -> None:
    spec = parse_demand_annotation(
        json.dumps(
            {
                "acceleratorTypes": ["H100", "A100"],
                "minAcceleratorMemoryGiB": 40,
                "interconnect": "InfiniBand",
                "rdma": True,
                "cpuFeatures": ["avx512f"],
                "sameDomain": "rack",
                "tiers": ["edge", "cloud"],
                "zones": ["cn-east-1-sh"],
                "sites": ["sh-edge-1"],
                "maxLatencyMs": 20,
                "maxPricePerHour": 40,
                "billing": "spot",
                "weights": {"accelerator": 4, "hpc": 2, "locality": 3, "cost": 1, "packing": 2},
            }
        )
    )
    assert spec.accelerator_types == ("H100", "A100")
    assert spec.min_accelerator_memory_gib == 40
    assert spec.interconnect == "infiniband"
    assert spec.cpu_features == ("AVX512F",)
    assert spec.same_domain is Domain.RACK
    assert spec.tiers == (Tier.EDGE, Tier.CLOUD)
    assert spec.billing is Billing.SPOT
    assert spec.weights.locality == 3


def test_defaults() -> None:
    spec = parse_demand_annotation(None)
    assert spec.accelerator_types == ()
    assert spec.billing is Billing.ON_DEMAND
    assert spec.weights.model_dump() == {
        "accelerator": 4,
        "hpc": 2,
        "locality": 3,
        "cost": 1,
        "packing": 2,
    }
    assert parse_demand_annotation('{"weights": {"cost": 5}}').weights.accelerator == 4


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ('{"acceleratorType": ["H100"]}', r"acceleratorType: unknown field"),
        ('{"maxLatencyMs": 20}', r"maxLatencyMs: needs sites"),
        ('{"sites": ["a"], "maxLatencyMs": -1}', r"maxLatencyMs: Input should be greater"),
        ('{"sites": ["a"], "maxLatencyMs": "20"}', r"maxLatencyMs: Input should be a valid number"),
        ('{"rdma": "yes"}', r"rdma: Input should be a valid boolean"),
        ('{"sameDomain": "galaxy"}', r"sameDomain: Input should be"),
        ('{"tiers": ["cloud", "moon"]}', r"tiers\[1\]: Input should be"),
        ('{"tiers": ["edge", "edge"]}', r"tiers: 'edge' is listed twice"),
        ('{"billing": "free"}', r"billing: Input should be"),
        ('{"acceleratorTypes": "H100"}', r"acceleratorTypes: Input should be a valid array"),
        ('{"minAcceleratorMemoryGiB": 0}', r"minAcceleratorMemoryGiB: Input should be greater"),
        ('{"maxPricePerHour": -2}', r"maxPricePerHour: Input should be greater"),
        ('{"weights": {"gpu": 1}}', r"weights\.gpu: unknown field"),
        ('{"weights": {"cost": -1}}', r"weights\.cost: Input should be greater"),
        (
            '{"weights": {"accelerator": 0, "hpc": 0, "locality": 0, "cost": 0, "packing": 0}}',
            r"weights: at least one weight must be positive",
        ),
        ("{", r"not valid JSON"),
        ("[]", r"must be a JSON object"),
    ],
)
def test_errors_name_the_field(annotation: str, message: str) -> None:
    with pytest.raises(DemandError, match=message):
        parse_demand_annotation(annotation)


def test_parse_pod() -> None:
    raw = pod(
        {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"},
        {"acceleratorTypes": ["H100"]},
        name="w-0",
        job="llm",
    )
    demand = parse_pod(raw)
    assert demand.key == "team-a/w-0"
    assert demand.job == "team-a/llm"
    assert demand.accelerator_resources == ("nvidia.com/gpu",)
    assert demand.accelerator_count == 2
    assert demand.requests.amount("cpu") == 4000
    assert demand.wants_accelerator
    assert demand.spec.accelerator_types == ("H100",)


@pytest.mark.parametrize(
    ("requests", "spec", "wants"),
    [
        ({"cpu": "1"}, {}, False),
        ({"huawei.com/Ascend910": "1"}, {}, True),
        ({"cpu": "1"}, {"acceleratorTypes": ["T4"]}, True),
        ({"cpu": "1"}, {"minAcceleratorMemoryGiB": 16}, True),
    ],
)
def test_wants_accelerator(requests: dict[str, str], spec: dict[str, Any], wants: bool) -> None:
    assert parse_pod(pod(requests, spec)).wants_accelerator is wants


def test_bad_pod_resources() -> None:
    with pytest.raises(DemandError, match=r"pod resources: spec\.containers\[0\]"):
        parse_pod(pod({"cpu": "a lot"}))


def test_annotation_must_be_a_string() -> None:
    raw = pod()
    raw["metadata"]["annotations"][DEMAND_ANNOTATION] = {"rdma": True}
    with pytest.raises(DemandError, match="string of JSON"):
        parse_pod(raw)
