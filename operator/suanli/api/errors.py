"""Validation errors rendered the way the apiserver renders them.

`spec.tasks[0].replicas: Input should be greater than or equal to 1` reads the same whether the
operator found the mistake in Python or `kubectl apply` was refused by the CRD, so one fix
instruction serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from suanli.api.cel import FIELD_PATH


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """`("spec", "tasks", 0, "replicas")` -> `spec.tasks[0].replicas`."""
    path = prefix
    for step in loc:
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            path += f".{step}" if path else step
    return path


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """One error per problem; `prefix` names where the validated value sits (e.g. `spec`)."""
    found: list[FieldError] = []
    for item in error.errors():
        path = field_path(tuple(item["loc"]), prefix)
        # A rule checked on an object may point into it, as a CEL rule's fieldPath does.
        inner = str(item.get("ctx", {}).get(FIELD_PATH, ""))
        # A rule on the whole object points from its root: `.metadata.name` -> `metadata.name`.
        path = path + inner if path else inner.removeprefix(".")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        found.append(FieldError(path or "(top level)", message))
    return found
