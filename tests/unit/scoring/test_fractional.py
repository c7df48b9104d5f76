"""Fractional GPU requests through the core: parsing, filters, usage rebuild, device choice."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.keys import GPU_DEVICES_ANNOTATION, GPU_MILLI_ANNOTATION
from suanli.scoring import (
    MILLI_PER_DEVICE,
    Catalog,
    DemandError,
    LatencyMap,
    NodeSnapshot,
    NodeUsage,
    Outcome,
    PodDemand,
    Resources,
    Snapshot,
    evaluate,
    node_facts,
    parse_pod,
)
from suanli.scoring.devices import allocate, candidates

from .helpers import T4, default_catalog, default_latency, gpu_node, node, pod


def share_pod(
    milli: int | str,
    requests: dict[str, str] | None = None,
    *,
    name: str = "s",
    node_name: str | None = None,
    devices: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    raw = pod(
        requests or {"cpu": "1", "memory": "1Gi"}, spec or None, name=name, node_name=node_name
    )
    raw["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(milli)
    if devices is not None:
        raw["metadata"]["annotations"][GPU_DEVICES_ANNOTATION] = devices
    return raw


def _with_devices(
    raw: dict[str, Any], catalog: Catalog, used: tuple[int, ...], whole: int = 0
) -> NodeSnapshot:
    requested = Resources({"nvidia.com/gpu": whole})
    return NodeSnapshot(node_facts(raw, catalog), NodeUsage(requested, 1, used))


# --- the annotation --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "milli"), [("250", 250), (" 1000 ", 1000), ("1", 1)])
def test_share_annotation(text: str, milli: int) -> None:
    demand = parse_pod(share_pod(text))
    assert demand.gpu_milli == milli
    assert demand.wants_accelerator
    assert demand.gpu.total_milli == milli
    assert demand.accelerator_count == 0


@pytest.mark.parametrize("text", ["0", "1001", "0.5", "half", "", "-1"])
def test_share_annotation_refused(text: str) -> None:
    with pytest.raises(DemandError, match=f"{GPU_MILLI_ANNOTATION}: .* not a whole number"):
        parse_pod(share_pod(text))


def test_share_and_whole_devices_are_exclusive() -> None:
    with pytest.raises(DemandError, match="not both"):
        parse_pod(share_pod(500, {"nvidia.com/gpu": "1"}))
    with pytest.raises(DemandError, match="excludes whole devices"):
        PodDemand(Resources({"nvidia.com/gpu": 1}), gpu_milli=500)


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "used", "milli", "spec", "outcome", "reason"),
    [
        pytest.param(gpu_node("g", count=2), (0, 0), 500, {}, Outcome.FEASIBLE, "", id="idle node"),
        pytest.param(
            gpu_node("g", count=2),
            (800, 700),
            500,
            {},
            Outcome.RESOLVABLE,
            "insufficient nvidia.com/gpu share (largest free 300m, want 500m)",
            id="no device with room, though 500m are free in total",
        ),
        pytest.param(
            gpu_node("g", count=2),
            (1000, 500),
            500,
            {},
            Outcome.FEASIBLE,
            "",
            id="exactly fills a device",
        ),
        pytest.param(node("c"), (), 250, {}, Outcome.UNRESOLVABLE, "no accelerator", id="CPU node"),
        pytest.param(
            gpu_node("g", count=2),
            (0, 0),
            250,
            {"acceleratorTypes": ["T4"]},
            Outcome.UNRESOLVABLE,
            "accelerator type H100 not in [T4]",
            id="type constraint",
        ),
        pytest.param(
            gpu_node("t", T4["product"], 4, T4["memory_mib"]),
            (0, 0, 0, 0),
            250,
            {"acceleratorTypes": ["T4"]},
            Outcome.FEASIBLE,
            "",
            id="accepted type",
        ),
    ],
)
def test_share_filter(
    catalog: Catalog,
    latency: LatencyMap,
    raw: dict[str, Any],
    used: tuple[int, ...],
    milli: int,
    spec: dict[str, Any],
    outcome: Outcome,
    reason: str,
) -> None:
    snapshot = _with_devices(raw, catalog, used)
    verdict = evaluate(parse_pod(share_pod(milli, **spec)), [snapshot], catalog, latency).verdicts[
        0
    ]
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_whole_devices_need_idle_ones(catalog: Catalog, latency: LatencyMap) -> None:
    # Two devices carry shares: kube-scheduler counts 8 free GPUs, the devices say 6 are idle.
    snapshot = _with_devices(gpu_node("g"), catalog, (250, 0, 0, 500, 0, 0, 0, 0))
    demand = parse_pod(pod({"nvidia.com/gpu": "7"}))
    verdict = evaluate(demand, [snapshot], catalog, latency).verdicts[0]
    assert verdict.outcome is Outcome.RESOLVABLE
    assert verdict.reason == "insufficient idle nvidia.com/gpu (idle 6, want 7; 2 shared)"
    six = evaluate(parse_pod(pod({"nvidia.com/gpu": "6"})), [snapshot], catalog, latency)
    assert six.results[0].allocation == tuple((i, 1000) for i in (1, 2, 4, 5, 6, 7))


def test_cpu_and_memory_still_filter_shares(catalog: Catalog, latency: LatencyMap) -> None:
    raw = gpu_node("g", count=2)
    full = NodeSnapshot(node_facts(raw, catalog), NodeUsage(Resources({"cpu": 96_000}), 3, (0, 0)))
    verdict = evaluate(parse_pod(share_pod(100)), [full], catalog, latency).verdicts[0]
    assert verdict.outcome is Outcome.RESOLVABLE
    assert verdict.category == "insufficient cpu"
    big = share_pod(100, {"memory": "2Ti"})
    verdict = evaluate(parse_pod(big), [_with_devices(raw, catalog, (0, 0))], catalog, latency)
    assert verdict.verdicts[0].outcome is Outcome.UNRESOLVABLE


def test_device_without_allocatable_refuses_a_share(catalog: Catalog, latency: LatencyMap) -> None:
    raw = gpu_node("g")
    raw["status"]["allocatable"].pop("nvidia.com/gpu")
    raw["metadata"]["labels"]["nvidia.com/gpu.count"] = "0"
    verdict = evaluate(
        parse_pod(share_pod(100)), [NodeSnapshot(node_facts(raw, catalog))], catalog, latency
    )
    assert verdict.verdicts[0].outcome is Outcome.UNRESOLVABLE


# --- device choice and the result ------------------------------------------------------------


def test_share_goes_to_the_tightest_device_without_a_workload(
    catalog: Catalog, latency: LatencyMap
) -> None:
    snapshot = _with_devices(gpu_node("g", count=4), catalog, (0, 600, 700, 1000))
    result = evaluate(parse_pod(share_pod(300)), [snapshot], catalog, latency).results[0]
    assert result.allocation == ((2, 300),)
    assert result.breakdown is not None


def test_shares_pay_their_fraction_of_a_device(catalog: Catalog, latency: LatencyMap) -> None:
    snapshot = _with_devices(gpu_node("g", price=80.0), catalog, (0,) * 8)
    result = evaluate(parse_pod(share_pod(500)), [snapshot], catalog, latency).results[0]
    assert "5 USD/h on-demand for 500m of one of 8 nvidia.com/gpu" in result.explanation


# --- usage rebuilt from pods -----------------------------------------------------------------


def test_snapshot_reads_recorded_devices_and_places_the_rest(catalog: Catalog) -> None:
    snapshot = Snapshot.from_objects(
        [gpu_node("g", count=4), node("c")],
        [
            share_pod(250, name="a", node_name="g", devices="2:250"),
            share_pod(500, name="b", node_name="g"),  # no record: tightest fit, device 2
            pod({"nvidia.com/gpu": "1"}, name="w", node_name="g"),  # no record: first idle
            _recorded_whole("x", "g", "3"),
            share_pod(100, name="bad", node_name="g", devices="nonsense"),  # unreadable: unrecorded
            pod({"cpu": "1"}, name="cpu", node_name="c"),
        ],
        catalog,
    )
    g = snapshot.node("g")
    assert g is not None
    # Recorded first (a on 2, x on 3), then whole before shares, each at its tightest fit.
    assert g.devices_used() == (1000, 0, 850, 1000)
    assert g.used("nvidia.com/gpu") == 2
    c = snapshot.node("c")
    assert c is not None
    assert c.usage.devices is None
    assert c.devices_used() == ()


def _recorded_whole(name: str, node_name: str, devices: str) -> dict[str, Any]:
    raw = pod({"nvidia.com/gpu": "1"}, name=name, node_name=node_name)
    raw["metadata"]["annotations"][GPU_DEVICES_ANNOTATION] = devices
    return raw


def test_whole_devices_only_keep_the_derived_picture(catalog: Catalog) -> None:
    snapshot = Snapshot.from_objects(
        [gpu_node("g", count=4)], [pod({"nvidia.com/gpu": "3"}, name="w", node_name="g")], catalog
    )
    g = snapshot.node("g")
    assert g is not None
    assert g.usage.devices is None
    assert g.devices_used() == (1000, 1000, 1000, 0)


# --- property: a feasible answer is always an allocation that fits --------------------------

CATALOG = default_catalog()
LATENCY = default_latency()
FACTS = node_facts(gpu_node("g", count=4), CATALOG)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    st.one_of(
        st.integers(1, 4).map(lambda n: parse_pod(pod({"nvidia.com/gpu": str(n)}))),
        st.integers(1, 1000).map(lambda m: parse_pod(share_pod(m))),
    ),
)
def test_feasible_means_the_devices_fit(used: list[int], demand: PodDemand) -> None:
    whole = sum(1 for u in used if u == MILLI_PER_DEVICE)
    snapshot = NodeSnapshot(FACTS, NodeUsage(Resources({"nvidia.com/gpu": whole}), 1, tuple(used)))
    result = evaluate(demand, [snapshot], CATALOG, LATENCY).results[0]
    options = candidates(tuple(used), demand.gpu)
    assert result.feasible == bool(options)
    if result.feasible:
        assert result.allocation in options
        after = allocate(tuple(used), result.allocation)
        assert all(0 <= u <= MILLI_PER_DEVICE for u in after)
        assert sum(after) - sum(used) == demand.gpu.total_milli
