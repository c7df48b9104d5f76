"""The replay protocol and its measurements, on traces small enough to reason about."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from suanli.scoring import MILLI_PER_DEVICE, Catalog, LatencyMap
from suanli.simulate import policies
from suanli.simulate.arrivals import arrival_sequence
from suanli.simulate.generate import generate_nodes, generate_pods
from suanli.simulate.policies import POLICY_NAMES
from suanli.simulate.replay import replay
from suanli.simulate.results import unallocated_at
from suanli.simulate.run import RunSpec, load_scoring_files

from .conftest import SMALL_NODES, cpu_only, share, whole

CAPACITY = 10 * MILLI_PER_DEVICE  # SMALL_NODES: 2 + 4 + 4 devices


def test_sequence_is_shuffled_then_inflated_with_resampled_pods() -> None:
    pods = [whole(f"w{i}", 1) for i in range(6)] + [cpu_only("c")]
    first = arrival_sequence(pods, CAPACITY, 42, 1.3)
    assert first == arrival_sequence(pods, CAPACITY, 42, 1.3)  # the seed decides
    assert first != arrival_sequence(pods, CAPACITY, 43, 1.3)
    assert {p.name for p in first[:7]} == {p.name for p in pods}  # every trace pod, shuffled
    requested = [sum(p.gpu_request_milli for p in first[: i + 1]) for i in range(len(first))]
    assert requested[-1] >= 1.3 * CAPACITY > requested[-2]  # ends with the pod that crosses
    extra = first[7:]
    assert extra
    assert all("-r" in p.name for p in extra)
    assert len({p.name for p in first}) == len(first)


def test_sequence_stops_early_when_the_trace_alone_reaches_the_target() -> None:
    pods = [whole(f"w{i}", 1) for i in range(30)]
    assert len(arrival_sequence(pods, CAPACITY, 1, 1.3)) == 13
    assert arrival_sequence([cpu_only("c")], CAPACITY, 1, 1.3) == [cpu_only("c")]


def test_measurements(scoring_files: tuple[Catalog, LatencyMap]) -> None:
    catalog, latency = scoring_files
    sequence = [
        whole("w1", 4, "V100"),
        whole("w2", 4, "V100"),  # 80 % arrived: the V100s are full
        share("s1", 750),
        share("s2", 750),  # the T4s hold 750 each: 250 left on both
        whole("w3", 1),  # 105 %: no idle device anywhere, dropped
        share("s3", 250),
        cpu_only("c1"),
        whole("w4", 2),  # dropped
        share("s4", 250),  # 130 %: every device full
    ]
    result = replay(
        SMALL_NODES, sequence, "bestfit", catalog=catalog, latency=latency, keep_placements=True
    )
    assert (result.placed, result.failed) == (7, 2)
    assert [p.pod for p in result.placements if p.node is None] == ["w3", "w4"]
    assert [p.devices for p in result.placements if p.node == "a-t4"] == [
        "0:750",
        "1:750",
        "0:250",
        "1:250",
    ]
    assert result.unallocated == {100: pytest.approx(5.0), 130: pytest.approx(0.0)}
    assert unallocated_at(result.curve, 50) == pytest.approx(20.0)
    assert result.curve[0] == (1, 40.0)
    # At arrived 100 % the idle 500 milli are two 250 remainders: fragments for whole pods.
    assert 0 < result.fragmentation_rate <= 100
    assert result.summary()["failed"] == 2


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_every_policy_keeps_devices_whole(policy: str) -> None:
    nodes = generate_nodes(25)
    catalog, latency = load_scoring_files(RunSpec(tuple(nodes), ()))
    capacity = sum(n.gpu for n in nodes) * MILLI_PER_DEVICE
    sequence = arrival_sequence(generate_pods(220, 3, 0.3), capacity, 7, 1.3)
    result = replay(nodes, sequence, policy, catalog=catalog, latency=latency, seed=7)
    assert result.placed + result.failed == len(sequence)
    assert result.placed > 0
    allocated = [a for _, a in result.curve]
    assert all(0 <= a <= 100 for a in allocated)
    assert allocated == sorted(allocated)  # pods never leave
    assert set(result.unallocated) == {100, 130}


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_collector_is_paused_for_a_replay_and_restored_after(
    scoring_files: tuple[Catalog, LatencyMap],
    monkeypatch: pytest.MonkeyPatch,
    enabled_before: bool,
) -> None:
    catalog, latency = scoring_files
    seen: list[bool] = []
    place = policies.CostPolicy.place

    def spying_place(self: policies.CostPolicy, *args: Any) -> Any:
        seen.append(gc.isenabled())
        return place(self, *args)

    monkeypatch.setattr(policies.CostPolicy, "place", spying_place)
    was = gc.isenabled()
    try:
        (gc.enable if enabled_before else gc.disable)()
        replay(
            SMALL_NODES,
            [share("s1", 500), cpu_only("c1")],
            "bestfit",
            catalog=catalog,
            latency=latency,
        )
        assert gc.isenabled() is enabled_before
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False]


def test_the_collector_comes_back_when_a_replay_fails(
    scoring_files: tuple[Catalog, LatencyMap], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, latency = scoring_files

    def failing_place(self: policies.CostPolicy, *args: Any) -> Any:
        raise RuntimeError("policy broke")

    monkeypatch.setattr(policies.CostPolicy, "place", failing_place)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="policy broke"):
        replay(SMALL_NODES, [cpu_only("c1")], "bestfit", catalog=catalog, latency=latency)
    assert gc.isenabled()
