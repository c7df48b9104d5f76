"""CEL validation rules, declared once and used twice.

Each rule is rendered into the CRD as an `x-kubernetes-validations` entry, so the apiserver
refuses a bad ComputeJob at `kubectl apply`; its `message` is also what the pydantic model
raises for the same mistake, so the operator, the tests and users read one wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The key under which a Python validation error carries its rule's fieldPath.
FIELD_PATH = "fieldPath"


class Reason(StrEnum):
    """The `reason` values the apiserver accepts for a CEL rule (the HTTP-style cause)."""

    INVALID = "FieldValueInvalid"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    FORBIDDEN = "FieldValueForbidden"


@dataclass(frozen=True, slots=True)
class Rule:
    """One `x-kubernetes-validations` entry.

    `message` must stand on its own: the apiserver falls back to it when `message_expression`
    fails to evaluate, and pydantic raises it verbatim.
    """

    rule: str
    message: str
    message_expression: str | None = None
    field_path: str | None = None
    reason: Reason = Reason.INVALID

    def render(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"rule": self.rule, "message": self.message}
        if self.message_expression is not None:
            entry["messageExpression"] = self.message_expression
        if self.field_path is not None:
            entry["fieldPath"] = self.field_path
        entry["reason"] = self.reason.value
        return entry


def validations(*rules: Rule) -> dict[str, Any]:
    """`json_schema_extra` carrying the rules; the CRD generator copies it into the schema."""
    return {"x-kubernetes-validations": [rule.render() for rule in rules]}
