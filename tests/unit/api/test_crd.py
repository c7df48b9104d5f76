"""The generated CRD: committed as generated, structural, and cheap enough for CEL budgets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from suanli.api import crd, models, podtemplate
from suanli.api.cel import Rule

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "crds" / "suanli.dev_computejobs.yaml"
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "const", "uniqueItems"}


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path, the root included."""
    yield path or "<root>", schema
    for name, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}.*")


def _schema() -> dict[str, Any]:
    return crd.openapi_schema()


def test_committed_crd_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == crd.render(), (
        "crds/suanli.dev_computejobs.yaml is out of date with the models; regenerate it with\n"
        "    python -m suanli.api.crd > crds/suanli.dev_computejobs.yaml"
    )


def test_module_prints_the_crd() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "suanli.api.crd"], capture_output=True, text=True, check=True
    )
    assert result.stdout == crd.render()
    assert yaml.safe_load(result.stdout) == crd.custom_resource_definition()


def test_schema_is_structural() -> None:
    for path, node in _nodes(_schema()):
        assert not FORBIDDEN & node.keys(), f"{path} has {FORBIDDEN & node.keys()}"
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        if "properties" in node:
            assert node.get("type") == "object", path
            assert "additionalProperties" not in node, path
        assert set(node.get("required", [])) <= set(node.get("properties", {})), path
        assert not isinstance(node.get("exclusiveMinimum"), int | float), path


def test_every_spec_and_status_field_is_described() -> None:
    for path, node in _nodes(_schema()):
        if path.startswith((".spec", ".status")) and not path.endswith("[]"):
            assert node.get("description"), f"{path} has no description"


def test_every_user_list_is_bounded_for_cel_cost() -> None:
    # The apiserver estimates each rule's cost from maxItems/maxLength; unbounded lists under
    # spec would make it refuse the CRD (or rules added later).
    for path, node in _nodes(_schema()["properties"]["spec"], ".spec"):
        if ".template" in path:
            continue  # the pod template is preserved as written and no rule iterates it
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} has no maxItems"
        if node.get("type") == "string" and "enum" not in node and path.endswith("[]"):
            assert "maxLength" in node, f"{path} items have no maxLength"


def test_defaults_respect_their_own_constraints() -> None:
    for path, node in _nodes(_schema()):
        if "default" not in node:
            continue
        default = node["default"]
        assert default in node.get("enum", [default]), path
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert node.get("minimum", default) <= default <= node.get("maximum", default), path


def test_rules_come_from_the_models() -> None:
    messages = {
        rule.message
        for module in (models, podtemplate)
        for rule in vars(module).values()
        if isinstance(rule, Rule)
    }
    found = [
        rule["message"]
        for _, node in _nodes(_schema())
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(found) == len(messages) >= 7
    assert set(found) == messages


def test_names_printer_columns_and_subresources() -> None:
    spec = crd.custom_resource_definition()["spec"]
    assert spec["names"]["shortNames"][0] == "cj"
    assert spec["names"]["categories"] == ["suanli"]
    assert spec["scope"] == "Namespaced"
    (version,) = spec["versions"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Phase", "Ready", "Accelerator", "Nodes", "Cost/h", "Workload", "Age"]
    schema = _schema()
    for column in columns.values():
        if column["jsonPath"].startswith(".metadata"):
            continue
        node = schema
        for step in column["jsonPath"].strip(".").split("."):
            node = node["properties"][step]
        assert node["type"] == column["type"], column


def test_run_policy_defaults_on_every_job() -> None:
    run_policy = _schema()["properties"]["spec"]["properties"]["runPolicy"]
    assert run_policy["default"] == {}
    assert run_policy["properties"]["backoffLimit"]["default"] == 3
    assert run_policy["properties"]["suspend"]["default"] is False


class _Union(BaseModel):
    value: int | str


class _FreeForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: dict[str, str] = Field(default_factory=dict)
    anything: dict[str, object] = Field(default_factory=dict)


def test_untranslatable_models_fail_loudly() -> None:
    with pytest.raises(crd.SchemaError, match="unions"):
        crd.structural_schema(_Union.model_json_schema(), {})
    with pytest.raises(crd.SchemaError, match="preserve-unknown-fields"):
        crd.structural_schema(_FreeForm.model_json_schema(), {})


def test_string_maps_become_additional_properties() -> None:
    class Labels(BaseModel):
        labels: dict[str, str] = Field(default_factory=dict, description="Labels.")

    schema = crd.structural_schema(Labels.model_json_schema(), {})
    assert schema["properties"]["labels"] == {
        "description": "Labels.",
        "type": "object",
        "additionalProperties": {"type": "string"},
    }


def test_committed_queue_crd_is_the_generated_one_and_structural() -> None:
    committed = ROOT / crd.QUEUES.file
    assert committed.read_text() == crd.render(crd.QUEUES), (
        f"{crd.QUEUES.file} is out of date with the models; regenerate it with `make generate`"
    )
    definition = crd.custom_resource_definition(crd.QUEUES)
    assert definition["spec"]["scope"] == "Cluster"
    for path, node in _nodes(crd.openapi_schema(crd.QUEUES)):
        assert not FORBIDDEN & node.keys(), f"{path} has {FORBIDDEN & node.keys()}"
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
