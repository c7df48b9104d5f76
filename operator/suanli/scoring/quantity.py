"""Kubernetes resource quantities (`500m`, `1.5Gi`, `1e3`), parsed exactly.

The arithmetic uses fractions so that `0.1` CPU is exactly 100 milli-units and `1.5Gi` exactly
1610612736 bytes; rounding goes up, as `resource.Quantity.MilliValue()` and `.Value()` do.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType

from suanli.scoring.errors import QuantityError

# Sign, digits with an optional fraction, then a binary-SI, decimal-SI or exponent suffix.
# The exponent alternative comes before the bare `E` (exa) so `1E3` reads as 1000.
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)

_MULTIPLIERS: Mapping[str, Fraction] = MappingProxyType(
    {
        "": Fraction(1),
        "n": Fraction(1, 10**9),
        "u": Fraction(1, 10**6),
        "m": Fraction(1, 10**3),
        "k": Fraction(10**3),
        "M": Fraction(10**6),
        "G": Fraction(10**9),
        "T": Fraction(10**12),
        "P": Fraction(10**15),
        "E": Fraction(10**18),
        "Ki": Fraction(2**10),
        "Mi": Fraction(2**20),
        "Gi": Fraction(2**30),
        "Ti": Fraction(2**40),
        "Pi": Fraction(2**50),
        "Ei": Fraction(2**60),
    }
)

# Exponents beyond this are not real resource amounts; refusing them keeps Fraction sizes sane.
_MAX_EXPONENT = 30


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a quantity; QuantityError for anything Kubernetes would reject."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a Kubernetes quantity")
        # JSON numbers arrive as floats; their shortest repr is what the user wrote.
        return Fraction(Decimal(repr(value)))
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise QuantityError(
            f"{value!r} is not a Kubernetes quantity; write e.g. '2', '500m', '512Mi' or '1e3'"
        )
    try:
        number = Fraction(Decimal(match["number"]))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E") and suffix != "Ei" and len(suffix) > 1:
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{value!r}: exponent {exponent} is out of range")
        return number * Fraction(10) ** exponent
    return number * _MULTIPLIERS[suffix]


# Remembered per value (and its type: True is no quantity, 1 is): every pod and node a
# scheduler reads spells its quantities from a handful of strings, each parsed exactly.
@functools.lru_cache(maxsize=4096, typed=True)
def to_milli(value: str | int | float) -> int:
    """Milli-units, rounded up (CPU is counted this way)."""
    return math.ceil(parse_quantity(value) * 1000)


@functools.lru_cache(maxsize=4096, typed=True)
def to_units(value: str | int | float) -> int:
    """Whole units, rounded up (bytes for memory, a count for devices and pods)."""
    return math.ceil(parse_quantity(value))
