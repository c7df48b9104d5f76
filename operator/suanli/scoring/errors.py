"""Errors raised when the inputs to scoring (catalog, latency map, demand) are unusable.

Every message names the offending field as a path into the input, so the person who wrote the
file or annotation can fix it without reading the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from suanli.fielderrors import describe

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
