from __future__ import annotations

import contextlib
from collections.abc import Callable
from fractions import Fraction

import pytest

from suanli.scoring import QuantityError, parse_quantity, to_milli, to_units


@pytest.mark.parametrize(
    ("text", "milli", "units"),
    [
        ("0", 0, 0),
        ("1", 1000, 1),
        ("2", 2000, 2),
        ("500m", 500, 1),  # .Value() rounds up
        ("0.1", 100, 1),
        ("1.5", 1500, 2),
        (".5", 500, 1),
        ("5.", 5000, 5),
        ("100u", 1, 1),  # milli rounds up too
        ("1n", 1, 1),
        ("1k", 1_000_000, 1000),
        ("1M", 10**9, 10**6),
        ("1G", 10**12, 10**9),
        ("1Ki", 1_024_000, 1024),
        ("1Mi", 2**20 * 1000, 2**20),
        ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
        ("512Gi", 2**39 * 1000, 2**39),
        ("2Ti", 2**41 * 1000, 2**41),
        ("1Ei", 2**60 * 1000, 2**60),
        ("1e3", 1_000_000, 1000),
        ("1E3", 1_000_000, 1000),
        ("1.5e-3", 2, 1),
        ("1E", 10**21, 10**18),  # a bare E is exa, not an exponent
        ("+3", 3000, 3),
        ("-1", -1000, -1),
        (" 4 ", 4000, 4),
    ],
)
def test_quantities(text: str, milli: int, units: int) -> None:
    assert to_milli(text) == milli
    assert to_units(text) == units


def test_exact_fractions() -> None:
    assert parse_quantity("0.1") == Fraction(1, 10)
    assert parse_quantity("1.5Gi") == Fraction(3 * 2**29)


@pytest.mark.parametrize(("value", "units"), [(8, 8), (0.5, 1), (2.0, 2)])
def test_json_numbers(value: float, units: int) -> None:
    assert to_units(value) == units


@pytest.mark.parametrize(
    "text", ["", "abc", "1.2.3", "1KiB", "1 Gi", "Gi", "1e", "--1", "1ki", "1mi", "0x10", "1e999"]
)
def test_rejects_non_quantities(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf")])
def test_rejects_odd_numbers(value: float) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(value)


@pytest.mark.parametrize(
    ("parse", "first", "then"),
    [
        pytest.param(to_units, 1, True, id="units-of-1-then-true"),
        pytest.param(to_milli, 1, True, id="milli-of-1-then-true"),
        pytest.param(to_units, "abc", "abc", id="units-refused-twice"),
        pytest.param(to_milli, float("nan"), float("nan"), id="milli-nan-refused-twice"),
    ],
)
def test_parsed_quantities_are_remembered_but_refusals_never_are(
    parse: Callable[[object], int], first: object, then: object
) -> None:
    with contextlib.suppress(QuantityError):
        parse(first)
    with pytest.raises(QuantityError):
        parse(then)


@pytest.mark.parametrize(("good", "bad"), [(1, True), (0, False), ("1", "1 Gi")])
def test_remembered_values_keep_their_type(good: int | str, bad: bool | str) -> None:
    """A value read once is remembered; one equal to it but of another type is no quantity
    all the same (True == 1), and a refusal is not remembered."""
    assert to_units(good) == to_units(good)
    assert to_milli(good) == to_milli(good)
    for _ in range(2):
        with pytest.raises(QuantityError):
            to_units(bad)
        with pytest.raises(QuantityError):
            to_milli(bad)
