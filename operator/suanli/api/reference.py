"""docs/api.md: the ComputeJob reference, generated from the same schema as the CRD.

    python -m suanli.api.reference > docs/api.md

Reading the generated CRD rather than the models means the page documents exactly what the
apiserver enforces: the constraints, defaults and CEL rules it will apply.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from suanli.api import crd, models, queues
from suanli.api.workloads import DEFAULT_WORKLOAD, weights_table

_INTRO = f"""\
# ComputeJob API reference

<!-- Generated from operator/suanli/api/models.py; do not edit by hand. Regenerate with:
     python -m suanli.api.reference > docs/api.md -->

| | |
| --- | --- |
| Group / version | `{models.API_VERSION}` |
| Kind | `{models.KIND}` (namespaced) |
| Resource | `{models.PLURAL}`, short names {", ".join(f"`{n}`" for n in models.SHORT_NAMES)}, \
categories {", ".join(f"`{c}`" for c in models.CATEGORIES)} |
| CRD | [`crds/suanli.dev_computejobs.yaml`](../crds/suanli.dev_computejobs.yaml) |
| Models | `suanli.api.models` (pydantic), the single source of the CRD and of this page |

A ComputeJob runs one or more **tasks** (roles such as a launcher and workers), each a set of
identical pods made from a pod template, and asks for where they may run: accelerator types in
order of preference, HPC fabric and CPU features, tiers, zones and sites, a price ceiling.
Hard requirements filter nodes; preferences and `policy.weights` rank the ones left. With
`gang`, no pod is bound until `minMember` pods fit at once.

`cj` is also the short name of the built-in CronJob, which kubectl resolves first; use
`kubectl get cjob`, `kubectl get computejobs` or `kubectl get suanli`.

Examples: [`examples/`](../examples) (`kubectl apply -f examples/training-gang.yaml`).

The apiserver refuses an invalid job at `kubectl apply` and names the field, e.g.
`spec.gang.minMember: Invalid value: gang.minMember (5) exceeds the total replicas of all tasks
(4); lower gang.minMember or add replicas`. Unknown fields are refused under
`kubectl apply --validate=strict` (the default of recent kubectl) and dropped otherwise.
"""


def _cell(text: object) -> str:
    return str(text).replace("\n", " ").replace("|", "\\|")


def _type(schema: dict[str, Any]) -> str:
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"[]{_type(schema['items'])}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind


_BOUNDS = (
    ("minimum", ">= {}"),
    ("maximum", "<= {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
)


def _constraints(schema: dict[str, Any]) -> list[str]:
    found = []
    if "enum" in schema:
        found.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    found += [label.format(schema[key]) for key, label in _BOUNDS if key in schema]
    if "pattern" in schema:
        found.append(f"pattern `{schema['pattern']}`")
    items = schema.get("items")
    if items is not None and items.get("type") != "object" and (inner := _constraints(items)):
        found.append("each item: " + ", ".join(inner))
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        found.append("unique items")
    if list_type == "map":
        keys = ", ".join(f"`{k}`" for k in schema.get("x-kubernetes-list-map-keys", []))
        found.append(f"unique by {keys}")
    return found


def _is_object(schema: dict[str, Any]) -> bool:
    """Whether the field gets a section of its own: a declared object, or a list of them.

    Preserved objects (the pod template) are documented by Kubernetes, not here.
    """
    target = schema.get("items", schema) if schema.get("type") == "array" else schema
    return "properties" in target and not target.get("x-kubernetes-preserve-unknown-fields")


def _anchor(path: str) -> str:
    return path.replace(".", "").replace("[]", "").lower()


def _row(path: str, name: str, schema: dict[str, Any], required: bool) -> str:
    child = f"{path}.{name}" + ("[]" if schema.get("type") == "array" else "")
    field = f"[`{name}`](#{_anchor(child)})" if _is_object(schema) else f"`{name}`"
    default = f"`{json.dumps(schema['default'])}`" if "default" in schema else ""
    return (
        "| "
        + " | ".join(
            [
                field,
                _cell(_type(schema)),
                "yes" if required else "",
                _cell(default),
                _cell("; ".join(_constraints(schema))),
                _cell(schema.get("description", "")),
            ]
        )
        + " |"
    )


def _rules(schema: dict[str, Any], field: str = "") -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", []):
        where = f"`{field}`: " if field else ""
        at = f" (reported at `{rule['fieldPath']}`)" if "fieldPath" in rule else ""
        yield f"- {where}`{rule['rule']}`{at}: {rule['message']}"


def _nested_rules(schema: dict[str, Any], field: str) -> Iterator[str]:
    """The rules of a field without a section and of everything declared inside it."""
    yield from _rules(schema, field)
    target = schema["items"] if schema.get("type") == "array" else schema
    for name, child in target.get("properties", {}).items():
        yield from _nested_rules(child, f"{field}.{name}")


def _section(path: str, schema: dict[str, Any]) -> Iterator[str]:
    """The table of one object's fields, its rules, then the sections of its object fields."""
    target = schema["items"] if schema.get("type") == "array" else schema
    children: dict[str, dict[str, Any]] = target.get("properties", {})
    yield f"### `{path}`"
    yield ""
    yield _cell(target.get("description", ""))
    yield ""
    yield "| Field | Type | Required | Default | Constraints | Description |"
    yield "| --- | --- | --- | --- | --- | --- |"
    required = set(target.get("required", []))
    for name, child in children.items():
        yield _row(path, name, child, name in required)
    yield ""
    # Rules on a field that has no section of its own are listed with its parent's.
    rules = [*_rules(target), *(_rules(schema) if target is not schema else [])]
    for name, child in children.items():
        rules += _nested_rules(child, name) if not _is_object(child) else []
    if rules:
        yield "Rules checked by the apiserver:"
        yield ""
        yield from rules
        yield ""
    for name, child in children.items():
        if _is_object(child):
            suffix = "[]" if child.get("type") == "array" else ""
            yield from _section(f"{path}.{name}{suffix}", child)


def _columns(resource: crd.Resource = crd.JOBS) -> Iterator[str]:
    yield "## `kubectl get` columns"
    yield ""
    yield "| Column | From | Shown |"
    yield "| --- | --- | --- |"
    for column in resource.printer_columns:
        shown = "with `-o wide`" if column.get("priority", 0) else "always"
        yield f"| {column['name']} | `{column['jsonPath']}` | {shown} |"
    yield ""


_QUEUE_INTRO = f"""\
# ComputeQueue

| | |
| --- | --- |
| Group / version | `{models.API_VERSION}` |
| Kind | `{queues.QUEUE_KIND}` (cluster-scoped) |
| Resource | `{queues.QUEUE_PLURAL}`, short names \
{", ".join(f"`{n}`" for n in queues.QUEUE_SHORT_NAMES)} |
| CRD | [`{crd.QUEUES.file}`](../{crd.QUEUES.file}) |
| Models | `suanli.api.queues` (pydantic) |

A ComputeQueue admits the ComputeJobs that name it in `spec.queue` (or that name none, in the
namespaces of a queue marked `default`) against its quotas: a job is admitted when every
replica of every task fits the queue's nominal quota plus what it may borrow from its cohort,
for one of the job's accepted accelerator types in preference order. Until then the job is
`Queued` with the reason, its position and the quota it waits for on its status.
"""


def _workloads() -> Iterator[str]:
    yield "## Workload defaults"
    yield ""
    yield (
        f"`spec.workload` (default `{DEFAULT_WORKLOAD.value}`) selects the weight of each "
        "score signal that `spec.policy.weights` leaves unset; a weight the job sets wins. "
        "The operator writes the resulting weights into every pod's `suanli.dev/demand` "
        "annotation, so the extender and the gang planner score with them (signals: "
        "docs/scoring.md)."
    )
    yield ""
    yield weights_table()
    yield ""
    yield (
        "Nothing else depends on the workload: filters, gang admission and the pods created "
        "are the same for every kind; it also fills the `Workload` column."
    )
    yield ""


def render() -> str:
    root = crd.openapi_schema()
    schema = root["properties"]
    lines = [_INTRO, *_columns(), *_workloads(), "## Fields", ""]
    if whole := list(_rules(root)):
        lines += ["Rules on the whole job, checked by the apiserver:", "", *whole, ""]
    lines += _section("spec", schema["spec"])
    lines += _section("status", schema["status"])
    queue = crd.openapi_schema(crd.QUEUES)["properties"]
    lines += [_QUEUE_INTRO, *_columns(crd.QUEUES), "## ComputeQueue fields", ""]
    lines += _section("ComputeQueue.spec", queue["spec"])
    lines += _section("ComputeQueue.status", queue["status"])
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
