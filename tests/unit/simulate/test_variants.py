"""Named trace variants: each produces the node and pod mix it claims."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.simulate.generate import generate_pods
from suanli.simulate.trace import PodRow
from suanli.simulate.variants import (
    PROD_VARIANTS,
    VARIANTS,
    PodMix,
    parse_variants,
    variant_named,
)

PODS = 20_000
TOLERANCE = 0.015  # about four standard deviations of a share measured on PODS pods
HEAVY_CORES_PER_DEVICE = 14  # above what a usual pod asks (at most 12 and rounding)


@dataclass(frozen=True)
class MixCase:
    variant: str
    cpu_only: float  # of all pods
    share: float  # of GPU pods
    multi: float  # of GPU pods
    constrained: float  # of GPU pods
    cpu_heavy: float  # of pods asking for one device or less


MIX_CASES = (
    MixCase("prod", cpu_only=0.12, share=0.30, multi=0.10, constrained=0.10, cpu_heavy=0.10),
    MixCase(
        "prod-types-20", cpu_only=0.12, share=0.30, multi=0.10, constrained=0.20, cpu_heavy=0.1
    ),
    MixCase(
        "prod-types-33", cpu_only=0.12, share=0.30, multi=0.10, constrained=0.33, cpu_heavy=0.1
    ),
    MixCase(
        "prod-share-40", cpu_only=0.12, share=0.40, multi=0.10, constrained=0.10, cpu_heavy=0.1
    ),
    MixCase(
        "prod-share-80", cpu_only=0.12, share=0.80, multi=0.10, constrained=0.10, cpu_heavy=0.1
    ),
    MixCase(
        "prod-multi-30", cpu_only=0.12, share=0.30, multi=0.30, constrained=0.10, cpu_heavy=0.1
    ),
    MixCase(
        "prod-multi-50", cpu_only=0.12, share=0.30, multi=0.50, constrained=0.10, cpu_heavy=0.1
    ),
    MixCase(
        "dev", cpu_only=0.26, share=0.37 / 0.74, multi=0.095 / 0.74, constrained=0.10, cpu_heavy=0
    ),
    MixCase(
        "dev-typed", cpu_only=0.26, share=0.5, multi=0.095 / 0.74, constrained=0.40, cpu_heavy=0
    ),
)


def _share(part: list[PodRow], whole: list[PodRow]) -> float:
    return len(part) / len(whole)


def _heavy(pod: PodRow) -> bool:
    devices = max(pod.gpu_request_milli / 1000, 0.25)
    return pod.cpu_milli / 1000 / devices > HEAVY_CORES_PER_DEVICE


@pytest.mark.parametrize("case", MIX_CASES, ids=lambda c: c.variant)
def test_variant_pod_mix(case: MixCase) -> None:
    pods = VARIANTS[case.variant].pods(PODS, seed=11)
    gpu = [p for p in pods if p.num_gpu]
    small = [p for p in gpu if p.gpu_request_milli <= 1000]
    measured = {
        "cpu_only": 1 - _share(gpu, pods),
        "share": _share([p for p in gpu if p.is_share], gpu),
        "multi": _share([p for p in gpu if p.num_gpu > 1], gpu),
        "constrained": _share([p for p in gpu if p.gpu_spec], gpu),
        "cpu_heavy": _share([p for p in small if _heavy(p)], small),
    }
    claimed = {name: getattr(case, name) for name in measured}
    for name, value in measured.items():
        assert abs(value - claimed[name]) < TOLERANCE, (name, value, claimed[name])
    assert not any(p.gpu_spec for p in pods if not p.num_gpu)


@dataclass(frozen=True)
class FleetCase:
    variant: str
    eight_gpu_nodes: float  # share of all nodes, at least
    eight_gpu_models: int  # distinct models among the 8-GPU nodes, at least
    cpu_only_nodes: float  # share of all nodes


FLEET_CASES = (
    FleetCase("prod", eight_gpu_nodes=0.70, eight_gpu_models=5, cpu_only_nodes=0.10),
    FleetCase("dev", eight_gpu_nodes=0.52, eight_gpu_models=4, cpu_only_nodes=0.06),
)


@pytest.mark.parametrize("case", FLEET_CASES, ids=lambda c: c.variant)
def test_variant_fleet(case: FleetCase) -> None:
    nodes = VARIANTS[case.variant].nodes(1000)
    eight = [n for n in nodes if n.gpu == 8]
    assert len(eight) / len(nodes) >= case.eight_gpu_nodes - 0.002
    assert len({n.model for n in eight}) >= case.eight_gpu_models
    assert abs(sum(1 for n in nodes if n.gpu == 0) / len(nodes) - case.cpu_only_nodes) < 0.002


def test_share_pods_at_a_few_common_sizes_and_a_long_tail() -> None:
    pods = VARIANTS["prod-share-80"].pods(PODS, seed=3)
    shares = [p.gpu_milli for p in pods if p.is_share]
    counts = sorted((shares.count(size) for size in set(shares)), reverse=True)
    assert len(counts) >= 10  # a long tail of sizes
    assert sum(counts[:4]) / len(shares) > 0.7  # four of them make most of the shares


def test_prod_pods_are_hosted_by_the_prod_fleet() -> None:
    """Every pod of a prod variant fits some node of the fleet when it is empty."""
    variant = VARIANTS["prod-multi-50"]
    nodes = variant.nodes(200)
    for pod in variant.pods(3000, seed=5):
        need = max(1, pod.num_gpu) if pod.num_gpu else 0
        assert any(
            n.gpu >= need
            and n.cpu_milli >= pod.cpu_milli
            and n.memory_mib >= pod.memory_mib
            and (not pod.gpu_spec or n.model in pod.gpu_spec)
            for n in nodes
        ), pod


def test_dev_variant_is_the_development_trace() -> None:
    assert VARIANTS["dev"].pods(500, seed=7) == generate_pods(500, 7, 0.1)
    assert VARIANTS["dev"].pods(500, seed=7, constrained=0.3) == generate_pods(500, 7, 0.3)


def test_a_mix_with_more_shares_and_multi_gpu_pods_than_gpu_pods_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be more than every GPU pod"):
        PodMix(cpu_only=0.1, share=0.8, multi=0.3, constrained=0, cpu_heavy=0).table()


@dataclass(frozen=True)
class ParseCase:
    text: str
    expected: tuple[str, ...]


@pytest.mark.parametrize(
    "case",
    [
        ParseCase("prod", ("prod",)),
        ParseCase("prod-share-80, dev,prod-share-80", ("prod-share-80", "dev")),
        ParseCase("prod-all", PROD_VARIANTS),
        ParseCase("all", tuple(VARIANTS)),
    ],
    ids=lambda c: c.text,
)
def test_parse_variants(case: ParseCase) -> None:
    assert parse_variants(case.text) == case.expected


def test_unknown_variant_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'prod-x': choose from dev, dev-typed, prod"):
        variant_named("prod-x")
    assert len(PROD_VARIANTS) == 7
