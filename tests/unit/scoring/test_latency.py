from __future__ import annotations

import pytest

from suanli.scoring import LatencyError, LatencyMap, parse_latency


@pytest.mark.parametrize(
    ("a", "b", "ms"),
    [
        ("sh-edge-1", "cn-east-1", 3),
        ("cn-east-1", "sh-edge-1", 3),  # symmetric
        ("sh-edge-1", "bj-edge-1", 28),
        ("sh-edge-1", "us-east-1", 220),
        ("sh-edge-1", "sh-edge-1", 0),
        ("nowhere", "nowhere", 0),
        ("sh-edge-1", "nowhere", None),
    ],
)
def test_between(latency: LatencyMap, a: str, b: str, ms: float | None) -> None:
    assert latency.between(a, b) == ms


def test_nearest_uses_the_most_specific_known_place(latency: LatencyMap) -> None:
    # A cloud node in us-east-1a: the zone is not listed, the region is.
    nearest = latency.nearest((None, "us-east-1a", "us-east-1"), ["sh-edge-1"])
    assert nearest is not None
    assert (nearest.site, nearest.ms) == ("sh-edge-1", 220)
    # Two data sites: the closer one speaks.
    nearest = latency.nearest(("bj-edge-1", None, None), ["sh-edge-1", "bj-edge-1"])
    assert nearest is not None
    assert (nearest.site, nearest.ms) == ("bj-edge-1", 0)
    assert latency.nearest(("mars", None, None), ["sh-edge-1"]) is None


def test_zone_entry_overrides_region() -> None:
    m = parse_latency({"latencyMs": {"s": {"z": 1, "r": 9}}})
    nearest = m.nearest((None, "z", "r"), ["s"])
    assert nearest is not None
    assert nearest.ms == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"latencyMs": {"a": {"b": -1}}}, r"latencyMs\.a\.b: must be a finite"),
        ({"latencyMs": {"a": {"a": 3}}}, r"latencyMs\.a\.a: a place is 0 ms away"),
        ({"latencyMs": {"a": {"b": 3}, "b": {"a": 4}}}, r"latency is symmetric"),
        ({"latencyMs": {"a": {"b": "far"}}}, r"latencyMs\.a\.b"),
        ({"latency": {}}, r"latency: unknown field"),
        ({}, r"latencyMs: Field required"),
    ],
)
def test_invalid_maps_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(LatencyError, match=message):
        parse_latency(data)


def test_both_directions_equal_is_fine() -> None:
    m = parse_latency("latencyMs: {a: {b: 3}, b: {a: 3}}")
    assert m.between("b", "a") == 3
    assert m.places == frozenset({"a", "b"})
