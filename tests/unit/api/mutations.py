"""Random invalid ComputeJobs, derived from the generated CRD schema itself.

Every constrained spot of a valid job (a minimum, an enum, a pattern, a required field, a
closed object) is a site; a hypothesis strategy breaks one site of one valid job with a
random value and says which field the refusal must name. The same strategy feeds pydantic in
the unit tests and the apiserver in the integration tests, so the models and the CRD are held
to each other, not only to hand-picked cases.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from suanli.api.crd import openapi_schema
from tests.unit.api.invalid_specs import DELETE, edit


@dataclass(frozen=True)
class Mutation:
    job: dict[str, Any]
    field: str  # the path the refusal must name
    why: str

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"Mutation({self.field}: {self.why})"


@dataclass(frozen=True)
class Site:
    path: str
    schema: dict[str, Any]
    required: bool = False  # the parent object requires it


def sites(value: object, schema: dict[str, Any], path: str) -> Iterator[Site]:
    """Every value in `value` with its schema; free-form objects are not looked into."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                required = name in schema.get("required", [])
                yield Site(f"{path}.{name}", child, required)
                yield from sites(value[name], child, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield Site(f"{path}[{index}]", schema["items"])
            yield from sites(item, schema["items"], f"{path}[{index}]")


_TEXT = st.text(st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), max_size=12)
_OTHER_TYPES: dict[str, tuple[object, ...]] = {
    "integer": ("seven", True, 1.5, [], {}),
    "number": ("seven", True, [], {}),
    "string": (7, True, [], {}),
    "boolean": ("maybe", 1, [], {}),
    "array": ("seven", 7, {}),
    "object": ("seven", 7, []),
}


def _violations(site: Site) -> list[st.SearchStrategy[tuple[object, str]]]:
    """Strategies of (bad value, reason) for one site."""
    schema = site.schema
    found: list[st.SearchStrategy[tuple[object, str]]] = []
    if site.required:
        found.append(st.just((DELETE, "required field removed")))
    kind = schema.get("type")
    if kind in _OTHER_TYPES:
        found.append(st.sampled_from(_OTHER_TYPES[kind]).map(lambda v: (v, "wrong type")))
    if kind == "integer" and "minimum" in schema:
        low = schema["minimum"]
        found.append(st.integers(low - 10**6, low - 1).map(lambda v: (v, "below minimum")))
    if kind == "integer" and "maximum" in schema:
        high = schema["maximum"]
        found.append(st.integers(high + 1, high + 10**6).map(lambda v: (v, "above maximum")))
    if kind == "number" and "minimum" in schema:
        low = schema["minimum"]
        found.append(
            st.floats(low - 1e6, low, exclude_max=True).map(lambda v: (v, "below minimum"))
        )
    if kind == "number" and "maximum" in schema:
        high = schema["maximum"]
        found.append(
            st.floats(high, high + 1e6, exclude_min=True).map(lambda v: (v, "above maximum"))
        )
    if "enum" in schema:
        allowed = set(schema["enum"])
        found.append(_TEXT.filter(lambda v: v not in allowed).map(lambda v: (v, "not in enum")))
    if "pattern" in schema:
        pattern = schema["pattern"]
        found.append(
            _TEXT.filter(lambda v: not re.fullmatch(pattern, v)).map(lambda v: (v, "pattern"))
        )
    if kind == "array" and schema.get("minItems", 0) > 0:
        found.append(st.just(([], "too few items")))
    closed = "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields")
    if kind == "object" and closed:
        declared = {name.lower() for name in schema["properties"]}
        found.append(
            st.from_regex(r"[a-z][A-Za-z]{0,11}", fullmatch=True)
            .filter(lambda v: v.lower() not in declared)
            .map(lambda v: (_UNKNOWN, v))
        )
    return found


_UNKNOWN = object()  # marks "add this unknown field" instead of "set this value"


def _apply(base: dict[str, Any], site: Site, value: object, why: str) -> Mutation:
    job = copy.deepcopy(base)
    if value is _UNKNOWN:
        field = f"{site.path}.{why}"
        edit(job, field, "surprise")
        return Mutation(job, field, "unknown field")
    edit(job, site.path, value)
    return Mutation(job, site.path, why if value is DELETE else f"{why}: {value!r}")


def invalid_jobs(bases: list[dict[str, Any]]) -> st.SearchStrategy[Mutation]:
    """One valid job from `bases` with one site broken."""
    schema = openapi_schema()["properties"]["spec"]
    options = [
        strategy.map(lambda pair, base=base, site=site: _apply(base, site, *pair))
        for base in bases
        for site in [Site("spec", schema), *sites(base["spec"], schema, "spec")]
        for strategy in _violations(site)
    ]
    return st.one_of(options)
