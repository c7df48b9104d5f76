"""docs/api.md is generated from the models, like the CRD."""

from __future__ import annotations

from pathlib import Path

from suanli.api import crd, reference

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "api.md"


def test_committed_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == reference.render(), (
        "docs/api.md is out of date with the models; regenerate it with\n"
        "    python -m suanli.api.reference > docs/api.md"
    )


def test_reference_covers_every_field_and_rule() -> None:
    text = reference.render()
    schema = crd.openapi_schema()["properties"]
    for part in ("spec", "status"):
        for name in schema[part]["properties"]:
            assert f"`{name}`" in text, name
    crd_text = crd.render()
    for line in crd_text.splitlines():
        if line.strip().startswith("message: "):
            assert line.split("message: ", 1)[1].split(";")[0] in text
    for column in crd.PRINTER_COLUMNS:
        assert f"| {column['name']} |" in text
