"""Small formatters for the human-readable reasons and explanations."""

from __future__ import annotations

from collections.abc import Iterable

_BINARY_SUFFIXES = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20))
_BYTE_RESOURCES = frozenset({"memory", "ephemeral-storage"})


def number(value: float) -> str:
    """12 -> '12', 79.65 -> '79.7': reasons stay short and stable."""
    rounded = round(value, 1)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.1f}"


def names(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def amount(resource: str, value: int) -> str:
    """Show an amount in the unit a user writes it in: cpu in cores or m, memory in Gi/Mi."""
    if resource == "cpu":
        return str(value // 1000) if value % 1000 == 0 else f"{value}m"
    if resource in _BYTE_RESOURCES or resource.startswith("hugepages-"):
        for suffix, size in _BINARY_SUFFIXES:
            if value >= size:
                return f"{number(value / size)}{suffix}"
        return str(value)
    return str(value)


def money(value: float) -> str:
    """98.32, 40, 0.05: two decimals at most, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
