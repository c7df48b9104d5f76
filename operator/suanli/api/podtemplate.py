"""What the CRD checks of a task's pod template: the fields a Pod made from it would be refused for.

A full PodTemplateSpec schema would be most of the core API, so the template is kept as written
and only the fields the operator's pods are most often refused for are declared: the
containers' `name` (a DNS-1123 label, unique) and `image` (required, no surrounding blanks),
the same for init containers, and the label values. Everything else a Pod can be refused for
is checked by the operator's webhook, which asks the apiserver to dry-run the pods.

Each check exists twice, as schema here and as `template_problems` for the pydantic model, so
the operator and `kubectl apply` refuse the same template at the same field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from suanli.api.cel import Reason, Rule, validations

# As Kubernetes checks them: a DNS-1123 label (container names) and a label value.
DNS_LABEL: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_VALUE: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# Not empty, no leading or trailing blank: what the apiserver requires of an image. The apiserver
# reads `\s` as Go does (tab, newline, form feed, carriage return, space); a rarer blank the Pod
# API also trims is left to the webhook's dry run.
IMAGE: Final = r"^\S([\s\S]*\S)?$"
_GO_BLANKS = "\t\n\f\r "
LABEL_VALUE_MAX = 63
# Bounds the Pod API does not have; they keep the apiserver's cost estimate of the rules below
# finite and no real pod comes near them.
MAX_CONTAINERS = 64
MAX_IMAGE = 1024

CONTAINERS_REQUIRED = Rule(
    rule="has(self.spec) && has(self.spec.containers) && size(self.spec.containers) > 0",
    message="template.spec.containers must list at least one container",
    field_path=".spec.containers",
    reason=Reason.REQUIRED,
)
UNIQUE_CONTAINER_NAMES = Rule(
    rule=(
        "!has(self.initContainers) || !has(self.containers) || "
        "self.initContainers.all(i, !self.containers.exists(c, c.name == i.name))"
    ),
    message=(
        "template.spec.initContainers reuses the name of a container; "
        "give every container and init container its own name"
    ),
    field_path=".initContainers",
    reason=Reason.DUPLICATE,
)


def _preserved(description: str, **properties: dict[str, Any]) -> dict[str, Any]:
    """An object kept as given, with only the named fields declared."""
    schema: dict[str, Any] = {
        "description": description,
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    return schema | ({"properties": properties} if properties else {})


def _containers(description: str) -> dict[str, Any]:
    item = _preserved(
        "A core/v1 Container.",
        name={
            "description": "The container's name: a DNS-1123 label, unique in the pod.",
            "type": "string",
            "maxLength": 63,
            "pattern": DNS_LABEL,
        },
        image={
            "description": "The container image; required, without leading or trailing blanks.",
            "type": "string",
            "maxLength": MAX_IMAGE,
            "pattern": IMAGE,
        },
    )
    item["required"] = ["name", "image"]
    return {
        "description": description,
        "type": "array",
        "maxItems": MAX_CONTAINERS,
        # A map list keyed by name: the apiserver refuses a repeated container name.
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": item,
    }


_LABELS: dict[str, Any] = {
    "description": "Labels of the pods; each value a label value (at most 63 characters).",
    "type": "object",
    "additionalProperties": {
        "description": "A label value.",
        "type": "string",
        "maxLength": LABEL_VALUE_MAX,
        "pattern": LABEL_VALUE,
    },
}

POD_TEMPLATE_SCHEMA: Final[dict[str, Any]] = {
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "metadata": _preserved("Labels and annotations of the pods.", labels=_LABELS),
        "spec": _preserved(
            "A core/v1 PodSpec.",
            containers=_containers("The pod's containers (core/v1 Container); at least one."),
            initContainers=_containers("Containers run to completion before the others."),
        )
        | validations(UNIQUE_CONTAINER_NAMES),
    },
} | validations(CONTAINERS_REQUIRED)


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _container_problems(containers: list[Any], where: str) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    if len(containers) > MAX_CONTAINERS:
        yield where, f"must have at most {MAX_CONTAINERS} items"
    for index, container in enumerate(containers):
        at = f"{where}[{index}]"
        if not isinstance(container, dict):
            yield at, "must be an object (a core/v1 Container)"
            continue
        name, image = container.get("name"), container.get("image")
        if not isinstance(name, str):
            yield f"{at}.name", "Required value: every container needs a name"
        elif len(name) > 63 or not re.fullmatch(DNS_LABEL, name):
            yield f"{at}.name", f"{name!r} is not a DNS-1123 label (a-z, 0-9, '-', at most 63)"
        elif name in seen:
            # At the item, as the apiserver reports a repeated key of a map list.
            yield at, f"Duplicate value: another container is named {name!r}"
        else:
            seen.add(name)
        if not isinstance(image, str) or not image:
            yield f"{at}.image", "Required value: every container needs an image"
        elif len(image) > MAX_IMAGE or image[0] in _GO_BLANKS or image[-1] in _GO_BLANKS:
            yield f"{at}.image", "must not have leading or trailing blanks"


def template_problems(template: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path relative to the template, message) for each problem the CRD also refuses."""
    spec = template.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    containers = _items(spec.get("containers"))
    if not containers:
        yield CONTAINERS_REQUIRED.field_path or "", CONTAINERS_REQUIRED.message
    yield from _container_problems(containers, ".spec.containers")
    init = _items(spec.get("initContainers"))
    yield from _container_problems(init, ".spec.initContainers")
    names = {c.get("name") for c in containers if isinstance(c, dict)}
    if any(isinstance(c, dict) and c.get("name") in names for c in init):
        # The rule sits on template.spec; paths here are relative to the template.
        yield f".spec{UNIQUE_CONTAINER_NAMES.field_path}", UNIQUE_CONTAINER_NAMES.message
    metadata = template.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    for key, value in (labels or {}).items() if isinstance(labels, dict) else ():
        if not isinstance(value, str):
            yield f".metadata.labels.{key}", "must be a string"
        elif len(value) > LABEL_VALUE_MAX or not re.fullmatch(LABEL_VALUE, value):
            yield (
                f".metadata.labels.{key}",
                f"{value!r} is not a label value (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', "
                "beginning and ending with a letter or digit)",
            )
