"""values.yaml, values.schema.json and docs/configuration.md: complete, strict and in step."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from suanli.scoring.catalog import Vendor, _TypeSpec
from suanli.scoring.resources import ACCELERATOR_RESOURCES
from tests.unit.chart import configdoc, crd_template
from tests.unit.chart.helm import CHART, render, render_error

VALUES = yaml.safe_load(configdoc.VALUES.read_text())
SCHEMA = json.loads(configdoc.SCHEMA.read_text())
SCHEMA_PATHS = configdoc.documented_paths()
COMMENTS = configdoc.parse_comments(configdoc.VALUES.read_text())


# --- the schema refuses what it should, and says where ------------------------------------------


@pytest.mark.parametrize(
    ("values", "messages"),
    [
        ({"operatr": {"replicas": 2}}, ["additional properties 'operatr' not allowed"]),
        (
            {"operator.replica": 2},
            ["at '/operator'", "additional properties 'replica' not allowed"],
        ),
        ({"operator.replicas": "two"}, ["at '/operator/replicas'", "got string, want integer"]),
        ({"operator.replicas": -1}, ["at '/operator/replicas'", "minimum"]),
        ({"crds.keep": "yes"}, ["at '/crds/keep'", "got string, want boolean"]),
        ({"extender.mode": "daemonset"}, ["at '/extender/mode'", "sidecar", "service"]),
        ({"extender.port": 70000}, ["at '/extender/port'", "maximum"]),
        ({"extender.httpTimeout": "5 seconds"}, ["at '/extender/httpTimeout'"]),
        ({"extender.listenAddress": "10.0.0.1"}, ["at '/extender/listenAddress'"]),
        ({"image.digest": "sha256:abc"}, ["at '/image/digest'"]),
        ({"scheduler.image.tag": "1.37.2"}, ["at '/scheduler/image/tag'"]),
        (
            {"operator.resources": {"request": {"cpu": "1"}}},
            ["at '/operator/resources'", "additional properties 'request' not allowed"],
        ),
        ({"operator.podAnnotations": {"a": 1}}, ["at '/operator/podAnnotations/a'", "want string"]),
        ({"operator.pdb.maxUnavailable": "half"}, ["at '/operator/pdb/maxUnavailable'"]),
        (
            {"scheduler.profile": {"schedulerName": "x"}},
            ["at '/scheduler/profile'", "additional properties 'schedulerName' not allowed"],
        ),
        (
            {
                "catalog.types": [
                    {
                        "name": "X1",
                        "vendor": "intel",
                        "memoryGiB": 1,
                        "performance": 1,
                        "pricePerHour": 1,
                    }
                ]
            },
            ["at '/catalog/types/0/vendor'", "nvidia"],
        ),
        (
            {
                "catalog.types": [
                    {
                        "name": "X1",
                        "vendor": "amd",
                        "memoryGiB": 0,
                        "performance": 1,
                        "pricePerHour": 1,
                    }
                ]
            },
            ["at '/catalog/types/0/memoryGiB'", "exclusiveMinimum"],
        ),
        (
            {"catalog.types": [{"name": "X1", "vendor": "amd"}]},
            ["at '/catalog/types/0'", "missing properties"],
        ),
        ({"catalog.types": []}, ["at '/catalog/types'", "minItems"]),
        ({"latency.latencyMs": {"a": {"b": -3}}}, ["at '/latency/latencyMs/a/b'", "minimum"]),
        ({"serviceMonitor.labels": {"release": True}}, ["at '/serviceMonitor/labels/release'"]),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_schema_refuses_with_the_path_and_the_reason(
    values: dict[str, Any], messages: list[str]
) -> None:
    error = render_error(values=values)
    assert "values don't meet the specifications of the schema" in error
    for message in messages:
        assert message in error


def test_the_schema_is_closed_everywhere() -> None:
    # Every object with declared keys refuses others, so every typo is an error.
    def nodes(node: dict[str, Any], path: str) -> Any:
        yield path, node
        for key, child in node.get("properties", {}).items():
            yield from nodes(child, f"{path}.{key}")

    for path, node in nodes(SCHEMA, ""):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            item = node["items"]
            if "properties" in item:
                assert item.get("additionalProperties") is False, path


def test_catalog_schema_matches_the_catalog_file_format() -> None:
    item = SCHEMA["properties"]["catalog"]["properties"]["types"]["items"]
    fields = {field.alias or name for name, field in _TypeSpec.model_fields.items()}
    assert set(item["properties"]) == fields
    assert set(item["properties"]["vendor"]["enum"]) == {v.value for v in Vendor}
    assert set(item["properties"]["resource"]["enum"]) == ACCELERATOR_RESOURCES
    required = {f.alias or n for n, f in _TypeSpec.model_fields.items() if f.is_required()}
    assert set(item["required"]) == required


# --- every value documented, in values.yaml and in docs/ -----------------------------------------


def test_every_value_has_a_comment() -> None:
    undocumented = [
        path
        for path in SCHEMA_PATHS
        if not COMMENTS.get(path, configdoc.Entry(path, "", 0)).comment
    ]
    assert undocumented == []


def test_values_and_schema_have_the_same_keys() -> None:
    def value_paths(values: dict[str, Any], prefix: str = "") -> set[str]:
        paths = set()
        for key, value in values.items():
            path = f"{prefix}{key}"
            paths.add(path)
            if isinstance(value, dict) and configdoc.is_section(path, SCHEMA_PATHS):
                paths |= value_paths(value, f"{path}.")
        return paths

    assert value_paths(VALUES) == set(SCHEMA_PATHS)


def test_the_comment_parser_sees_every_key_yaml_sees() -> None:
    # The documentation test is only as good as the parser behind it.
    assert set(SCHEMA_PATHS) <= set(COMMENTS)
    for path, entry in COMMENTS.items():
        if path in SCHEMA_PATHS:
            line = configdoc.VALUES.read_text().splitlines()[entry.line - 1]
            assert line.strip().startswith(path.rsplit(".", 1)[-1] + ":"), path


def test_configuration_reference_is_generated_from_values() -> None:
    document = configdoc.DOC.read_text()
    assert configdoc.splice(document, configdoc.reference()) == document, (
        "docs/configuration.md is out of date with charts/suanli/values.yaml; regenerate with\n"
        "    python -m tests.unit.chart.configdoc --write"
    )
    for path in SCHEMA_PATHS:
        assert f"`{path}`" in document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# a\nx: 1\n", {"x": "a"}),
        ("# a\n# b\nx:\n  # c\n  y: 1\n", {"x": "a b", "x.y": "c"}),
        ("# header\n\nx: 1\n", {"x": ""}),
        ("x:\n  - {a: 1}\n  - {b: 2}\n# d\ny: 2\n", {"x": "", "y": "d"}),
        (
            "a:\n  b:\n    # deep\n    c: 1\n  # back\n  d: 2\n",
            {"a": "", "a.b": "", "a.b.c": "deep", "a.d": "back"},
        ),
    ],
)
def test_comment_parser(text: str, expected: dict[str, str]) -> None:
    assert {path: e.comment for path, e in configdoc.parse_comments(text).items()} == expected


# --- the CRD in the chart is the generated one -----------------------------------------------------


@pytest.mark.parametrize("plural", crd_template.PLURALS)
def test_chart_crd_template_is_a_copy_of_crds(plural: str) -> None:
    argument = "" if plural == "computejobs" else f" {plural}"
    assert crd_template.template_file(plural).read_text() == crd_template.render(
        crd_template.crd_file(plural).read_text(), plural
    ), (
        f"charts/suanli/templates/crd-{plural}.yaml differs from crds/; refresh it with\n"
        f"    python -m tests.unit.chart.crd_template{argument} > "
        f"charts/suanli/templates/crd-{plural}.yaml"
    )


def test_rendered_crd_equals_crds_but_for_helm_metadata() -> None:
    generated = yaml.safe_load(crd_template.CRD_FILE.read_text())
    rendered = render().get("CustomResourceDefinition", generated["metadata"]["name"])
    assert rendered["spec"] == generated["spec"]
    assert {k: v for k, v in rendered.items() if k != "metadata"} == {
        k: v for k, v in generated.items() if k != "metadata"
    }
    assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_crd_template_refuses_template_syntax_in_the_crd() -> None:
    with pytest.raises(ValueError, match="Helm would evaluate"):
        crd_template.render("metadata:\n  name: x\nspec:\n  description: '{{ oops }}'\n")


def test_chart_has_no_crds_folder() -> None:
    # Helm installs crds/ once and never upgrades it; the template above replaces it.
    assert not (CHART / "crds").exists()
