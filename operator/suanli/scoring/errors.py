"""Errors raised when the inputs to scoring (catalog, latency map, demand) are unusable.

Every message names the offending field as a path into the input, so the person who wrote the
file or annotation can fix it without reading the code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ScoringInputError(ValueError):
    """Base class: an input document the scoring core cannot use."""


class QuantityError(ScoringInputError):
    """A string that is not a Kubernetes resource quantity."""


class CatalogError(ScoringInputError):
    """An accelerator catalog that does not validate."""


class LatencyError(ScoringInputError):
    """A site latency map that does not validate."""


class DataPolicyError(ScoringInputError):
    """A data policy that does not validate."""


class DemandError(ScoringInputError):
    """A pod whose `suanli.dev/demand` annotation (or resources) cannot be understood."""


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


def describe(error: ValidationError, what: str, data: object = None) -> str:
    """One line per problem, each starting with the field path."""
    lines = [f"invalid {what}:"]
    for item in error.errors():
        if item["type"] == "extra_forbidden":
            message = "unknown field; check its spelling"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {field_path(tuple(item['loc']), data)}: {message}")
    return "\n".join(lines)


def load_document(
    source: str | Mapping[str, object],
    where: str,
    model: type[Model],
    error: type[ScoringInputError],
    expected: str,
) -> tuple[Model, Mapping[str, object]]:
    """Validate YAML text or loaded data against `model`; `error` names the file and field."""
    data: object = source
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as problem:
            raise error(f"{where} is not valid YAML: {problem}") from None
    if not isinstance(data, Mapping):
        raise error(f"invalid {where}: expected {expected}")
    try:
        return model.model_validate(data), data
    except ValidationError as problem:
        raise error(describe(problem, where, data)) from None
