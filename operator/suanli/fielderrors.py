"""A pydantic validation error of a document someone wrote (a fleet file, the catalog, a demand
annotation), one line per problem, each starting with the path of the field to fix.

The ComputeJob and ComputeQueue APIs render theirs the apiserver's way instead
(`suanli.api.errors`), so that Python's refusal and `kubectl apply`'s read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

UNKNOWN_FIELD = "unknown field; check its spelling"


def field_path(loc: Sequence[int | str], data: object = None) -> str:
    """Render a pydantic location as `types[2](H100).pricePerHour`.

    A list element that has a `name` is labelled with it, so the reader finds it without counting.
    """
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            node = node[item] if isinstance(node, list | tuple) and 0 <= item < len(node) else None
            label = node.get("name") if isinstance(node, Mapping) else None
            parts.append(f"[{item}]({label})" if isinstance(label, str) else f"[{item}]")
            continue
        parts.append(f".{item}" if parts else str(item))
        node = node.get(item) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"


def describe(
    error: ValidationError, what: str, data: object = None, unknown: str = UNKNOWN_FIELD
) -> str:
    """`invalid <what>:` and one line per problem; `unknown` is said of a field the model does
    not have (where to look its spelling up)."""
    lines = [f"invalid {what}:"]
    for item in error.errors():
        if item["type"] == "extra_forbidden":
            message = unknown
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {field_path(tuple(item['loc']), data)}: {message}")
    return "\n".join(lines)
