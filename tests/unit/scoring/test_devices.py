"""Per-device usage in milli-devices: allocation, release, choice of devices, rebuild."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import (
    MILLI_PER_DEVICE,
    Allocation,
    AllocationError,
    GpuRequest,
    format_allocation,
    parse_allocation,
)
from suanli.scoring.devices import allocate, candidates, free_of, options_of, rebuild, release


@pytest.mark.parametrize(
    ("text", "allocation"),
    [
        pytest.param("0", ((0, 1000),), id="one whole device"),
        pytest.param("0,1", ((0, 1000), (1, 1000)), id="two whole devices"),
        pytest.param("3:250", ((3, 250),), id="a share"),
        pytest.param(" 2 , 0 ", ((0, 1000), (2, 1000)), id="spaces, sorted"),
        pytest.param("1:1000", ((1, 1000),), id="a full share is a whole device"),
    ],
)
def test_parse_allocation(text: str, allocation: Allocation) -> None:
    assert parse_allocation(text) == allocation


@pytest.mark.parametrize("text", ["", "a", "1:", "-1", "1:0", "1:1001", "0,0", "1:2:3", "1.5"])
def test_parse_allocation_refuses(text: str) -> None:
    with pytest.raises(AllocationError, match="device list"):
        parse_allocation(text)


@pytest.mark.parametrize(
    ("allocation", "text"),
    [(((0, 1000), (1, 1000)), "0,1"), (((3, 250),), "3:250"), ((), "")],
)
def test_format_allocation(allocation: Allocation, text: str) -> None:
    assert format_allocation(allocation) == text
    if text:
        assert parse_allocation(text) == allocation


@pytest.mark.parametrize(("whole", "milli"), [(-1, 0), (0, -5), (0, 1001), (1, 500)], ids=str)
def test_gpu_request_validation(whole: int, milli: int) -> None:
    with pytest.raises(ValueError, match="device request"):
        GpuRequest(whole, milli)


def test_gpu_request_amounts() -> None:
    assert GpuRequest(2).total_milli == 2000
    assert GpuRequest(milli=250).devices == 0.25
    assert not GpuRequest().wants


@pytest.mark.parametrize(
    ("used", "allocation", "message"),
    [
        pytest.param((800, 0), ((0, 300),), "over-allocate device 0", id="over a device"),
        pytest.param((0, 0), ((2, 100),), "device 2 does not exist", id="missing device"),
        pytest.param((1000,), ((0, 1000),), "over-allocate", id="whole on a used device"),
    ],
)
def test_allocate_refuses(used: tuple[int, ...], allocation: Allocation, message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        allocate(used, allocation)


def test_release_refuses_more_than_allocated() -> None:
    with pytest.raises(AllocationError, match="release more"):
        release((200, 0), ((0, 300),))


@pytest.mark.parametrize(
    ("used", "wanted", "expected"),
    [
        pytest.param((0, 0, 0, 0), GpuRequest(2), (((0, 1000), (1, 1000)),), id="lowest idle"),
        pytest.param((500, 0, 0), GpuRequest(2), (((1, 1000), (2, 1000)),), id="skips shared"),
        pytest.param((500, 0), GpuRequest(2), (), id="not enough idle"),
        pytest.param(
            (0, 600, 250, 600),
            GpuRequest(milli=300),
            (((1, 300),), ((2, 300),), ((0, 300),)),
            id="share: tightest first, one per free amount",
        ),
        pytest.param((900, 800), GpuRequest(milli=250), (), id="share does not fit"),
        pytest.param((0,), GpuRequest(), ((),), id="nothing asked"),
    ],
)
def test_candidates(
    used: tuple[int, ...], wanted: GpuRequest, expected: tuple[Allocation, ...]
) -> None:
    assert candidates(used, wanted) == expected


@pytest.mark.parametrize(
    ("free", "whole", "milli", "expected"),
    [
        pytest.param((1000, 1000, 0), 2, 0, (((0, 1000), (1, 1000)),), id="whole: lowest idle"),
        pytest.param((1000, 500), 2, 0, (), id="whole: not enough idle"),
        pytest.param(
            (1000, 400, 750, 400),
            0,
            300,
            (((1, 300),), ((2, 300),), ((0, 300),)),
            id="share: tightest first, lowest index among equals",
        ),
        pytest.param((0, 100), 0, 250, (), id="share: over-committed and full devices lack it"),
    ],
)
def test_options_of(
    free: tuple[int, ...], whole: int, milli: int, expected: tuple[Allocation, ...]
) -> None:
    """The options read from the free milli per device, as `candidates` finds them from the
    usage (what the planner asks, with a node state's free devices)."""
    assert options_of(free, whole, milli) == expected
    used = tuple(MILLI_PER_DEVICE - f for f in free)
    assert candidates(used, GpuRequest(whole, milli)) == expected


def test_rebuild_keeps_records_then_places_the_rest() -> None:
    used = rebuild(
        4,
        [
            (GpuRequest(milli=250), ((2, 250),)),  # recorded
            (GpuRequest(1), None),  # whole, unrecorded: first idle device
            (GpuRequest(milli=700), None),  # share, unrecorded: tightest fit
            (GpuRequest(1), ((9, 1000),)),  # a record naming a missing device counts as none
        ],
    )
    assert used == (1000, 1000, 950, 0)


def test_rebuild_overcommits_rather_than_forgets() -> None:
    used = rebuild(1, [(GpuRequest(1), None), (GpuRequest(1), None)])
    assert used == (2000,)
    assert free_of(used) == (0,)


# --- properties ------------------------------------------------------------------------------

requests = st.one_of(
    st.builds(GpuRequest, whole=st.integers(1, 4)),
    st.builds(GpuRequest, milli=st.sampled_from([100, 250, 300, 330, 500, 750, 1000])),
)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 8),
    st.lists(st.tuples(st.booleans(), requests, st.integers(0, 100)), max_size=40),
)
def test_never_over_allocates_and_release_restores(
    count: int, operations: list[tuple[bool, GpuRequest, int]]
) -> None:
    used = (0,) * count
    held: list[Allocation] = []
    for place, request, pick in operations:
        if place:
            options = candidates(used, request)
            if not options:
                continue
            allocation = options[pick % len(options)]
            before = used
            used = allocate(used, allocation)
            assert release(used, allocation) == before  # releasing restores exactly
            assert sum(used) - sum(before) == request.total_milli
            held.append(allocation)
        elif held:
            used = release(used, held.pop(pick % len(held)))
        assert all(0 <= u <= MILLI_PER_DEVICE for u in used)
        assert sum(used) == sum(m for a in held for _, m in a)
    for allocation in reversed(held):
        used = release(used, allocation)
    assert used == (0,) * count


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=8), requests)
def test_a_refused_allocation_changes_nothing(used: list[int], request: GpuRequest) -> None:
    for allocation in candidates(tuple(used), request):
        assert all(0 <= u <= MILLI_PER_DEVICE for u in allocate(tuple(used), allocation))
    whole = ((0, MILLI_PER_DEVICE),)
    if used[0] > 0:
        with pytest.raises(AllocationError):
            allocate(tuple(used), whole)
