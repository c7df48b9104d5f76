"""Typical shapes, expected fragmentation, the pressure of typed pods, and the packing signal."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import (
    DEFAULT_CONFIG,
    NO_WORKLOAD,
    Catalog,
    LatencyMap,
    NodeSnapshot,
    NodeState,
    NodeUsage,
    Resources,
    Shape,
    ShapeHistogram,
    Workload,
    evaluate,
    fragmentation,
    node_facts,
    node_state,
    parse_pod,
    shape_of,
    with_pressure,
)
from suanli.scoring.context import build_context
from suanli.scoring.device_plan import plan
from suanli.scoring.devices import NO_DEVICES
from suanli.scoring.fragmentation import relevant, shape_fragmentation
from suanli.scoring.scorers import accelerator, packing
from suanli.scoring.shapes import grid_ceiling

from .helpers import default_catalog, default_latency, gpu_node, node, pod
from .test_fractional import share_pod

GIB = 2**30
WHOLE = Shape(1, 0, 4000, 16 * GIB, "nvidia.com/gpu")
HALF = Shape(0, 500, 2000, 8 * GIB)
QUARTER = Shape(0, 250, 1000, 4 * GIB)
EIGHT = Shape(8, 0, 32000, 64 * GIB, "nvidia.com/gpu")


def _state(free: tuple[int, ...], cpu: int = 64_000, type_name: str | None = "H100") -> NodeState:
    return NodeState(free, cpu, 512 * GIB, 100, "nvidia.com/gpu", type_name)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0, 1000, 0),
        (1, 1000, 1000),
        (1000, 1000, 1000),
        (1001, 1000, 1500),
        (1600, 1000, 2000),
        (2500, 1000, 3000),
        (7000, 1000, 8000),
        (13 * GIB, GIB, 16 * GIB),
    ],
)
def test_grid_ceiling(value: int, unit: int, expected: int) -> None:
    assert grid_ceiling(value, unit) == expected


def test_shape_of(catalog: Catalog) -> None:
    share = parse_pod(share_pod(250, {"cpu": "3", "memory": "5Gi"}, acceleratorTypes=["t4"]))
    assert shape_of(share, ("T4",)) == Shape(0, 250, 3000, 6 * GIB, "", ("T4",))
    whole = parse_pod(pod({"nvidia.com/gpu": "2", "cpu": "8"}))
    assert shape_of(whole, ()) == Shape(2, 0, 8000, 0, "nvidia.com/gpu")
    assert shape_of(parse_pod(pod({"cpu": "8"})), ()) is None


@pytest.mark.parametrize(
    ("state", "shape", "expected"),
    [
        pytest.param(_state((1000, 1000)), WHOLE, 0, id="idle devices serve whole pods"),
        pytest.param(_state((300, 1000)), WHOLE, 300, id="a partly used device is a fragment"),
        pytest.param(_state((300, 1000)), HALF, 300, id="too small for half a device"),
        pytest.param(_state((300, 1000)), QUARTER, 0, id="fits a quarter"),
        pytest.param(_state((300, 1000), cpu=500), QUARTER, 1300, id="no cpu left: all idle"),
        pytest.param(_state((1000,) * 4), EIGHT, 4000, id="too few devices: all idle"),
        pytest.param(_state((0, 0)), WHOLE, 0, id="nothing idle"),
    ],
)
def test_shape_fragmentation(state: NodeState, shape: Shape, expected: int) -> None:
    assert shape_fragmentation(state, shape) == expected


def test_fragmentation_weighs_shapes_and_ignores_other_types() -> None:
    workload = Workload.of([(WHOLE, 1), (HALF, 1), (Shape(0, 500, 0, 0, "", ("T4",)), 2)])
    # WHOLE: 300 + 400; HALF: 300 + 400 (both below 500); the T4 shape: not this node's business.
    assert fragmentation(_state((300, 400, 1000)), workload) == pytest.approx(0.25 * 700 * 2)
    assert fragmentation(_state((300, 400)), NO_WORKLOAD) == 0


def test_workload_of_normalises_and_orders() -> None:
    workload = Workload.of([(HALF, 3), (QUARTER, 1), (WHOLE, 0)])
    assert workload.shapes == tuple(sorted((HALF, QUARTER)))
    assert sum(workload.weights) == pytest.approx(1)
    with pytest.raises(ValueError, match="one weight per distinct shape"):
        Workload((HALF,), ())
    with pytest.raises(ValueError, match="share"):
        Workload((HALF,), (1.0,), (("T4", 2.0),))


# --- the histogram ---------------------------------------------------------------------------


def test_histogram_counts_per_request_with_mean_cpu_and_memory() -> None:
    histogram = ShapeHistogram(refresh=0)
    histogram.add(Shape(0, 500, 2000, 4 * GIB))
    histogram.add(Shape(0, 500, 4000, 8 * GIB))
    histogram.add(None)  # CPU-only pods fragment nothing
    histogram.add(Shape(1, 0, 8000, 32 * GIB, "nvidia.com/gpu"))
    workload = histogram.workload()
    assert dict(zip(workload.shapes, workload.weights, strict=True)) == {
        Shape(0, 500, 3000, 6 * GIB): pytest.approx(2 / 3),
        Shape(1, 0, 8000, 32 * GIB, "nvidia.com/gpu"): pytest.approx(1 / 3),
    }
    histogram.remove(Shape(0, 500, 2000, 4 * GIB))
    histogram.remove(Shape(0, 500, 2000, 4 * GIB))  # counted once: the second is gone
    histogram.remove(Shape(2, 0, 1000, GIB, "nvidia.com/gpu"))  # never counted
    assert histogram.total == 1
    assert histogram.workload().shapes == (Shape(1, 0, 8000, 32 * GIB, "nvidia.com/gpu"),)


def test_histogram_is_bounded() -> None:
    histogram = ShapeHistogram(capacity=2, top=1, refresh=0)
    for milli in (100, 200, 300, 200):
        histogram.add(Shape(0, milli, 0, 0))
    assert set(histogram.counts().values()) == {1, 2}
    assert len(histogram.counts()) == 2  # the third shape was not counted
    assert histogram.workload().shapes == (Shape(0, 200, 0, 0),)


def test_histogram_re_estimates_as_it_grows() -> None:
    histogram = ShapeHistogram(refresh=0.5)
    estimates = []
    for count in range(1, 13):
        histogram.add(Shape(0, 100 * (1 + count % 3), 0, 0))
        estimates.append(histogram.workload())
    changed = [i + 1 for i in range(1, 12) if estimates[i] is not estimates[i - 1]]
    # Re-estimated when the count has moved by half since the last estimate (at least by one).
    assert changed == [2, 3, 5, 8, 12]


# --- pressure of typed pods ------------------------------------------------------------------


def test_pressure_grows_as_a_type_fills() -> None:
    typed = Shape(1, 0, 0, 0, "nvidia.com/gpu", ("T4",))
    workload = Workload.of([(WHOLE, 3), (typed, 1)])
    roomy = with_pressure(workload, {"T4": 40_000, "H100": 40_000})
    tight = with_pressure(workload, {"T4": 5_000, "H100": 75_000})
    # A quarter of the volume can only use T4: it needs a quarter of the idle capacity there.
    assert roomy.pressure_on("T4") == pytest.approx(0.25 * 80 / 40)
    assert tight.pressure_on("T4") == 1.0
    assert tight.pressure_on("H100") == 0.0
    assert tight.pressure_on(None) == 0.0
    assert with_pressure(NO_WORKLOAD, {"T4": 1}) is NO_WORKLOAD


def test_pressure_counts_only_the_types_the_workload_can_use() -> None:
    typed = Shape(0, 500, 0, 0, "", ("V100", "A10"))
    workload = Workload.of([(typed, 1)])
    alone = with_pressure(workload, {"V100": 4000, "A10": 4000})
    crowded = with_pressure(workload, {"V100": 4000, "A10": 4000, "H100": 80_000})
    assert alone.pressure == crowded.pressure == (("A10", 1.0), ("V100", 1.0))


def _plain_pressure(workload: Workload, idle: dict[str, int]) -> tuple[tuple[str, float], ...]:
    """The pressure as its definition reads (no index): per type, the volume of the shapes
    accepting it alone, then per set of several types accepting it (in the order the shapes
    first name them) the set's volume times the type's share of the set's idle capacity."""
    any_type = any(not s.types for s in workload.shapes)
    usable = set(idle) if any_type else {t for s in workload.shapes for t in s.types}
    total_idle = sum(idle.get(t, 0) for t in usable)
    volume = sum(w * s.total_milli for s, w in zip(workload.shapes, workload.weights, strict=True))
    if total_idle <= 0 or volume <= 0:
        return workload.pressure
    by_set: dict[tuple[str, ...], float] = {}  # accepted types -> their shapes' volume
    for shape, weight in zip(workload.shapes, workload.weights, strict=True):
        by_set[shape.types] = by_set.get(shape.types, 0.0) + weight * shape.total_milli
    reserved: dict[str, float] = {}
    for name in {t for s in workload.shapes for t in s.types}:
        amount = 0.0 + by_set.get((name,), 0.0)
        for types, set_volume in by_set.items():
            if len(types) > 1 and name in types:
                accepted = sum(idle.get(t, 0) for t in types)
                share = idle.get(name, 0) / accepted if accepted else 1 / len(types)
                amount += set_volume * share
        reserved[name] = amount
    return tuple(
        (name, min(1.0, amount / volume * total_idle / idle[name]) if idle.get(name) else 1.0)
        for name, amount in sorted(reserved.items())
    )


_TYPED_SHAPES = st.builds(
    Shape,
    whole=st.integers(0, 8),
    milli=st.sampled_from([0, 100, 250, 500]),
    cpu=st.sampled_from([0, 1000, 4000]),
    memory=st.just(0),
    resource=st.sampled_from(["", "nvidia.com/gpu"]),
    types=st.sampled_from([(), ("H100",), ("A100", "T4"), ("T4",), ("A10", "H100", "V100")]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_TYPED_SHAPES, st.integers(1, 50)), max_size=16),
    st.dictionaries(
        st.sampled_from(["H100", "A100", "T4", "A10", "V100", "L40S"]), st.integers(0, 80_000)
    ),
    st.lists(st.dictionaries(st.sampled_from(["H100", "T4"]), st.integers(0, 9000)), max_size=3),
)
def test_pressure_is_the_plain_sum_over_shapes(
    counts: list[tuple[Shape, int]], idle: dict[str, int], later: list[dict[str, int]]
) -> None:
    """The very floats of the definition, also for workloads derived from derived ones (they
    share the index of the first)."""
    workload = Workload.of(counts)
    for step in [idle, *({**idle, **change} for change in later)]:
        derived = with_pressure(workload, step)
        assert derived.pressure == _plain_pressure(workload, step)
        assert (derived.shapes, derived.weights) == (workload.shapes, workload.weights)
        assert derived == Workload(workload.shapes, workload.weights, derived.pressure)
        workload = derived


# --- the packing signal with a workload ------------------------------------------------------


def _packing(
    catalog: Catalog, latency: LatencyMap, demand: Any, snapshot: NodeSnapshot, workload: Workload
) -> float:
    context = build_context(
        demand, [snapshot], catalog, latency, peers=(), config=DEFAULT_CONFIG, workload=workload
    )
    return packing.score(context, snapshot).value


def _node(catalog: Catalog, used: tuple[int, ...], whole: int = 0) -> NodeSnapshot:
    facts = node_facts(gpu_node("g", count=len(used)), catalog)
    return NodeSnapshot(facts, NodeUsage(Resources({"nvidia.com/gpu": whole}), 1, used))


@pytest.mark.parametrize(
    ("used", "requests", "milli", "relation"),
    [
        pytest.param((0,) * 8, {"cpu": "1"}, 0, "==", id="CPU pod with room to spare: neutral"),
        pytest.param((500, 0), {}, 500, ">", id="a share filling a fragment"),
        pytest.param((0,) * 8, {}, 300, "<", id="a share leaving an odd remainder"),
        pytest.param((0,) * 8, {"nvidia.com/gpu": "1"}, 0, "<", id="breaks an 8-GPU idle node"),
    ],
)
def test_packing_follows_fragmentation(
    catalog: Catalog,
    latency: LatencyMap,
    used: tuple[int, ...],
    requests: dict[str, str],
    milli: int,
    relation: str,
) -> None:
    workload = Workload.of([(HALF, 2), (EIGHT, 1)])
    raw = share_pod(milli, requests) if milli else pod(requests)
    value = _packing(catalog, latency, parse_pod(raw), _node(catalog, used), workload)
    assert {"==": value == 0.5, ">": value > 0.5, "<": value < 0.5}[relation]


def test_packing_picks_the_device_that_fragments_least(
    catalog: Catalog, latency: LatencyMap
) -> None:
    # A 500 share goes where it leaves 500 (usable by HALF), not where it leaves 250, even though
    # the other device is the tighter fit.
    snapshot = _node(catalog, (0, 250, 1000, 1000))
    demand = parse_pod(share_pod(500))
    workload = Workload.of([(HALF, 1)])
    tight = evaluate(demand, [snapshot], catalog, latency).results[0]
    aware = evaluate(demand, [snapshot], catalog, latency, workload=workload).results[0]
    assert tight.allocation == ((1, 500),)
    assert aware.allocation == ((0, 500),)


def test_pressure_keeps_typed_capacity(catalog: Catalog, latency: LatencyMap) -> None:
    typed = Shape(1, 0, 0, 0, "nvidia.com/gpu", ("H100",))
    workload = with_pressure(Workload.of([(WHOLE, 1), (typed, 1)]), {"H100": 8000, "T4": 64000})
    demand = parse_pod(pod({"nvidia.com/gpu": "1"}))
    snapshot = _node(catalog, (1000, 0, 0, 0, 0, 0, 0, 0), whole=1)
    kept = _packing(catalog, latency, demand, snapshot, workload)
    free = _packing(catalog, latency, demand, snapshot, Workload.of([(WHOLE, 1), (typed, 1)]))
    assert kept < free


def test_untyped_pods_leave_the_type_to_packing(catalog: Catalog, latency: LatencyMap) -> None:
    demand = parse_pod(pod({"nvidia.com/gpu": "1"}))
    snapshot = _node(catalog, (0,) * 8)
    workload = Workload.of([(WHOLE, 1)])
    values = []
    for chosen in (NO_WORKLOAD, workload):
        context = build_context(
            demand, [snapshot], catalog, latency, peers=(), config=DEFAULT_CONFIG, workload=chosen
        )
        values.append(accelerator.score(context, snapshot).value)
    assert values[0] < 1.0
    assert values[1] == 1.0
    # CPU pods still keep off accelerator nodes.
    cpu = parse_pod(pod({"cpu": "1"}))
    context = build_context(
        cpu, [snapshot], catalog, latency, peers=(), config=DEFAULT_CONFIG, workload=workload
    )
    assert accelerator.score(context, snapshot).value == 0.0


def test_cpu_nodes_are_neutral(catalog: Catalog, latency: LatencyMap) -> None:
    snapshot = NodeSnapshot(node_facts(node("c"), catalog))
    assert node_state(snapshot).free == ()
    value = _packing(
        catalog, latency, parse_pod(pod({"cpu": "1"})), snapshot, Workload.of([(HALF, 1)])
    )
    assert value == 0.5


# --- the bound the replay prunes with --------------------------------------------------------

CATALOG = default_catalog()
LATENCY = default_latency()
SHAPES = [WHOLE, HALF, QUARTER, EIGHT, Shape(2, 0, 16000, 0, "nvidia.com/gpu"), Shape(0, 330, 0, 0)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0, 100, 250, 500, 670, 750, 1000]), min_size=1, max_size=8),
    st.integers(0, 96).map(lambda c: c * 1000),
    st.lists(st.tuples(st.sampled_from(SHAPES), st.integers(1, 5)), min_size=1, max_size=6),
    st.sampled_from([(0, 0), (1, 0), (2, 0), (0, 100), (0, 330), (0, 500), (0, 1000)]),
    st.sampled_from([0, 4000, 32000]),
)
def test_no_placement_removes_more_fragmentation_than_it_fills(
    used: list[int],
    cpu_used: int,
    counts: list[tuple[Shape, int]],
    request: tuple[int, int],
    cpu_wanted: int,
) -> None:
    facts = node_facts(gpu_node("g", count=len(used)), CATALOG)
    snapshot = NodeSnapshot(facts, NodeUsage(Resources({"cpu": cpu_used}), 1, tuple(used)))
    workload = Workload.of(counts)
    whole, milli = request
    requests = {"cpu": f"{cpu_wanted}m"} | ({"nvidia.com/gpu": str(whole)} if whole else {})
    demand = parse_pod(share_pod(milli, requests) if milli else pod(requests))
    found = plan(snapshot, demand.gpu, cpu_wanted, 0, workload)
    if found is None:
        return
    before = fragmentation(node_state(snapshot), workload)
    assert found.delta >= -min(before, demand.gpu.total_milli) - 1e-9
    assert not math.isnan(found.delta)


_SHAPES = st.builds(
    Shape,
    whole=st.integers(0, 8),
    milli=st.sampled_from([0, 100, 250, 330, 500, 750]),
    cpu=st.sampled_from([0, 1000, 4000, 64_000]),
    memory=st.sampled_from([0, GIB, 64 * GIB]),
    resource=st.sampled_from(["", "nvidia.com/gpu", "amd.com/gpu"]),
    types=st.sampled_from([(), ("H100",), ("A100", "T4")]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 1000), max_size=8),
    st.integers(-1000, 64_000),
    st.integers(0, 2),
    st.sampled_from(["nvidia.com/gpu", "amd.com/gpu", ""]),
    st.sampled_from(["H100", "T4", None]),
    st.lists(st.tuples(_SHAPES, st.integers(1, 9)), max_size=12),
)
def test_fragmentation_is_the_plain_sum_over_shapes(
    free: list[int],
    cpu: int,
    pods: int,
    resource: str,
    type_name: str | None,
    counts: list[tuple[Shape, int]],
) -> None:
    """The very float of the definition: relevant shapes, in order, weighted."""
    state = NodeState(tuple(free), cpu, 32 * GIB, pods, resource, type_name)
    workload = Workload.of(counts)
    plain = (
        sum(
            weight * shape_fragmentation(state, shape)
            for shape, weight in zip(workload.shapes, workload.weights, strict=True)
            if relevant(state, shape)
        )
        if state.free and state.idle
        else 0.0
    )
    assert fragmentation(state, workload) == plain


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([0, 250, 500, 1000]), min_size=1, max_size=8),
    st.sampled_from([0, 31_000, 91_000, 92_500, 95_000, 96_000, 97_000]),
    st.sampled_from([0, 960 * GIB, 1023 * GIB, 1024 * GIB]),
    st.sampled_from([0, 108, 109, 110]),
    st.sampled_from(["NVIDIA-H100-80GB-HBM3", "Tesla-T4"]),
    st.sampled_from([0, 500, 1000, 3000, 4000, 64_000]),
    st.sampled_from([0, GIB // 2, GIB, 63 * GIB]),
    st.lists(st.tuples(_SHAPES, st.integers(1, 9)), min_size=1, max_size=12),
)
def test_a_cpu_pod_s_plan_is_the_plain_change_of_fragmentation(
    used: list[int],
    cpu_used: int,
    memory_used: int,
    pods: int,
    product: str,
    cpu: int,
    memory: int,
    counts: list[tuple[Shape, int]],
) -> None:
    """A pod without devices whose cpu and memory leave every shape as hostable as before
    skips working out fragmentation: the plan is still the very float of the definition."""
    facts = node_facts(gpu_node("g", product, count=len(used)), default_catalog())
    requested = Resources({"cpu": cpu_used, "memory": memory_used})
    snapshot = NodeSnapshot(facts, NodeUsage(requested, pods, tuple(used)))
    workload = Workload.of(counts)
    state = node_state(snapshot)
    found = plan(snapshot, NO_DEVICES, cpu, memory, workload)
    assert found is not None
    after = state.after((), cpu, memory)
    expected = fragmentation(after, workload) - fragmentation(state, workload)
    assert (found.allocation, found.delta) == ((), expected)
    assert math.copysign(1, found.delta) == math.copysign(1, expected)
