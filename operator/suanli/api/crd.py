"""The CustomResourceDefinitions (ComputeJob, ComputeQueue), generated from the pydantic models.

    python -m suanli.api.crd > crds/suanli.dev_computejobs.yaml
    python -m suanli.api.crd computequeues > crds/suanli.dev_computequeues.yaml

Pydantic writes JSON Schema (draft 2020-12); a v1 CRD needs a *structural* OpenAPI v3 schema:
every node typed, no `$ref`, no `anyOf`/`oneOf`/`allOf`/`not`, optional fields simply left out
of `required`. `structural_schema` turns one into the other and refuses anything it cannot
translate faithfully, so a model change that would weaken the CRD fails loudly here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from suanli.api import models, queues

NAME = f"{models.PLURAL}.{models.GROUP}"

# Pydantic keywords that carry nothing the apiserver needs.
_DROPPED = frozenset({"title"})
# Keywords a structural schema forbids, or that mean something else in OpenAPI v3.0
# (`exclusiveMinimum` is a number in JSON Schema, a boolean in OpenAPI v3.0).
_UNSUPPORTED = frozenset(
    {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "uniqueItems", "prefixItems"}
    | {"exclusiveMinimum", "exclusiveMaximum", "discriminator", "examples"}
)
# Keywords shown first, so a reader of the YAML sees what a field is before its constraints.
_LEADING = ("description", "type")

PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": ".status.ready",
        "description": "Pods ready / pods in total",
    },
    {"name": "Accelerator", "type": "string", "jsonPath": ".status.acceleratorType"},
    {"name": "Nodes", "type": "string", "jsonPath": ".status.nodes"},
    {
        "name": "Cost/h",
        "type": "number",
        "jsonPath": ".status.pricePerHour",
        "description": "USD per hour of the running pods",
    },
    {"name": "Workload", "type": "string", "jsonPath": ".spec.workload", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

QUEUE_PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Cohort", "type": "string", "jsonPath": ".spec.cohort"},
    {
        "name": "Usage",
        "type": "string",
        "jsonPath": ".status.summary",
        "description": "Held against nominal quota, per resource",
    },
    {"name": "Pending", "type": "integer", "jsonPath": ".status.pending"},
    {"name": "Admitted", "type": "integer", "jsonPath": ".status.admitted"},
    {"name": "Default", "type": "boolean", "jsonPath": ".spec.default", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


@dataclass(frozen=True)
class Resource:
    """One custom resource: its model, names and how kubectl shows it."""

    model: type[BaseModel]
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: str
    printer_columns: tuple[dict[str, Any], ...]
    source: str  # the module its models live in

    @property
    def name(self) -> str:
        return f"{self.plural}.{models.GROUP}"

    @property
    def file(self) -> str:
        return f"crds/{models.GROUP}_{self.plural}.yaml"


JOBS = Resource(
    models.ComputeJob,
    models.KIND,
    models.PLURAL,
    models.SINGULAR,
    models.SHORT_NAMES,
    "Namespaced",
    PRINTER_COLUMNS,
    "operator/suanli/api/models.py",
)
QUEUES = Resource(
    queues.ComputeQueue,
    queues.QUEUE_KIND,
    queues.QUEUE_PLURAL,
    queues.QUEUE_SINGULAR,
    queues.QUEUE_SHORT_NAMES,
    "Cluster",
    QUEUE_PRINTER_COLUMNS,
    "operator/suanli/api/queues.py",
)
RESOURCES = {r.plural: r for r in (JOBS, QUEUES)}


def header(resource: Resource = JOBS) -> str:
    command = "python -m suanli.api.crd" + ("" if resource is JOBS else f" {resource.plural}")
    return (
        f"# Generated from {resource.source}; do not edit by hand. Regenerate with:\n"
        f"#   {command} > {resource.file}\n"
    )


HEADER = header()


# The standard root fields every Kubernetes object has; their schemas are fixed by the API.
def _root_fields(kind: str) -> dict[str, dict[str, Any]]:
    return {
        "apiVersion": {
            "description": "Versioned schema of this representation: suanli.dev/v1alpha1.",
            "type": "string",
        },
        "kind": {"description": f"The kind of object: {kind}.", "type": "string"},
        # A CRD may declare only name and generateName of the metadata; the name is declared
        # so a rule on the object's name can point at it (the rule itself is the model's).
        "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
    }


_ROOT_FIELDS = _root_fields(models.KIND)


class SchemaError(ValueError):
    """A model construct that has no faithful structural-schema equivalent."""


def _inline(node: Mapping[str, Any], defs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Resolve `$ref` and `X | None` until the node is a plain schema.

    Keywords next to a `$ref` (a field's description, default, rules) win over the target's,
    except that CEL rules of both are kept.
    """
    node = dict(node)
    while "$ref" in node or "anyOf" in node:
        if "$ref" in node:
            target = dict(defs[node.pop("$ref").rsplit("/", 1)[-1]])
        else:
            options = [o for o in node.pop("anyOf") if o != {"type": "null"}]
            if len(options) != 1:
                raise SchemaError(f"{where}: unions other than `X | None` are not supported")
            target = dict(options[0])
            # `X | None = None` only means "optional", which `required` already says.
            if node.get("default", ...) is None:
                del node["default"]
        rules = target.get("x-kubernetes-validations", []) + node.get(
            "x-kubernetes-validations", []
        )
        node = {**target, **node}
        if rules:
            node["x-kubernetes-validations"] = rules
    return node


def _additional(node: dict[str, Any], defs: Mapping[str, Any], where: str) -> None:
    """Translate `additionalProperties` in place.

    `false` (extra="forbid") is dropped: the apiserver prunes unknown fields, or refuses them
    under strict field validation. `true` must come with preserve-unknown-fields, which says
    the same thing structurally.
    """
    extra = node.pop("additionalProperties", False)
    if extra is True and not node.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{where}: free-form objects need x-kubernetes-preserve-unknown-fields")
    if isinstance(extra, Mapping):
        node["additionalProperties"] = structural_schema(extra, defs, f"{where}.*")


def _order(node: dict[str, Any]) -> dict[str, Any]:
    leading = {key: node[key] for key in _LEADING if key in node}
    return leading | {key: value for key, value in node.items() if key not in leading}


def structural_schema(
    node: Mapping[str, Any], defs: Mapping[str, Any], where: str = "<root>"
) -> dict[str, Any]:
    """The structural OpenAPI v3 equivalent of a pydantic JSON Schema node."""
    out = _inline(node, defs, where)
    _additional(out, defs, where)
    for key in _DROPPED & out.keys():
        del out[key]
    if bad := _UNSUPPORTED & out.keys():
        raise SchemaError(f"{where}: {', '.join(sorted(bad))} cannot go into a structural schema")
    if out.get("default", ...) == []:
        del out["default"]  # an absent list already means empty; `[]` would only add noise
    if "properties" in out:
        out["properties"] = {
            name: structural_schema(child, defs, f"{where}.{name}")
            for name, child in out["properties"].items()
        }
    if "items" in out:
        out["items"] = structural_schema(out["items"], defs, f"{where}[]")
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{where}: every schema node needs a type")
    return _order(out)


def openapi_schema(resource: Resource = JOBS) -> dict[str, Any]:
    """The `openAPIV3Schema` of the resource's CRD."""
    source = resource.model.model_json_schema(by_alias=True)
    defs = source.pop("$defs", {})
    root = _root_fields(resource.kind)
    # The standard fields' schemas are the API machinery's, not the model's (a Literal there
    # would become `const`, which a structural schema cannot hold).
    source["properties"] = {
        name: value for name, value in source["properties"].items() if name not in root
    }
    schema = structural_schema(source, defs)
    schema["properties"] = root | schema["properties"]
    return schema


def custom_resource_definition(resource: Resource = JOBS) -> dict[str, Any]:
    """The CRD object, ready for `kubectl apply`."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.name},
        "spec": {
            "group": models.GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.singular,
                "shortNames": list(resource.short_names),
                "categories": list(models.CATEGORIES),
            },
            "scope": resource.scope,
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in resource.printer_columns],
                    "schema": {"openAPIV3Schema": openapi_schema(resource)},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so long descriptions stay readable in the file."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(resource: Resource = JOBS) -> str:
    """The committed file's exact text."""
    body = yaml.dump(
        custom_resource_definition(resource),
        Dumper=_Dumper,
        sort_keys=False,
        width=100,
        allow_unicode=True,
    )
    return header(resource) + body


def main() -> None:
    plural = sys.argv[1] if len(sys.argv) > 1 else JOBS.plural
    if plural not in RESOURCES:
        sys.exit(f"unknown resource {plural!r}; one of {', '.join(RESOURCES)}")
    sys.stdout.write(render(RESOURCES[plural]))


if __name__ == "__main__":
    main()
