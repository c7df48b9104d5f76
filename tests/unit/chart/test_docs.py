"""The install documentation: its links lead somewhere, its anchors exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.chart.helm import ROOT

DOCS = [
    ROOT / "docs" / name
    for name in (
        "install.md",
        "configuration.md",
        "troubleshooting.md",
        "kind.md",
        "architecture.md",
    )
] + [ROOT / "charts" / "README.md", ROOT / "charts" / "suanli" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Install on a cluster")
    return readme[start : readme.index("\n## ", start + 1)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        resolved = (doc.parent / file).resolve() if file else doc
        assert resolved.exists(), f"{doc.name}: {target}"
        if anchor:
            assert anchor in _anchors(resolved), f"{doc.name}: {target}"


def test_readme_install_section_links_resolve() -> None:
    for target in LINK.findall(_readme_section()):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target.partition("#")[0]).exists(), target


def test_anchor_rule() -> None:
    assert _anchors(ROOT / "docs" / "kind.md") >= {"2-fake-gpus", "1-the-cluster"}
