"""Run times as people write them: `90m`, `1h30m`, `36h`, `45s`.

The syntax is the subset of Go's `time.ParseDuration` made of whole hours, minutes and seconds,
so the CRD's CEL rules can compare two of them with `duration()` exactly as Python does here.
Pure.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

# One to three parts, each a whole number and a unit: what `duration()` in CEL also parses.
DURATION = r"^([0-9]{1,7}h)?([0-9]{1,7}m)?([0-9]{1,7}s)?$"
_PART = re.compile(r"([0-9]+)([hms])")
_UNIT = {"h": 3600, "m": 60, "s": 1}
# The longest run time accepted anywhere: one year.
MAX_SECONDS = 366 * 24 * 3600

Duration = Annotated[str, Field(min_length=2, max_length=24, pattern=DURATION)]


class DurationError(ValueError):
    """A text that is not a run time."""


def seconds(text: str) -> int:
    """`1h30m` -> 5400. Refuses what the CRD's pattern refuses, and zero."""
    if not text or re.fullmatch(DURATION, text) is None:
        raise DurationError(f"{text!r} is not a duration such as 90m, 1h30m or 36h")
    total = sum(int(n) * _UNIT[u] for n, u in _PART.findall(text))
    if total <= 0:
        raise DurationError(f"{text!r} is zero; give a duration above 0")
    return total


def text(total: float) -> str:
    """5400 -> `1h30m`: the shortest form `seconds` reads back (whole seconds, rounded up)."""
    rest = max(0, int(-(-total // 1)))
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"
