"""The suite refuses to run a module compiled in place from an older source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import stale_compiled_modules


@dataclass(frozen=True)
class StaleCase:
    name: str
    source_after_extension: bool  # the source was saved after the extension was built
    stale: bool


CASES = [
    StaleCase("source edited after compiling", source_after_extension=True, stale=True),
    StaleCase("compiled after the last edit", source_after_extension=False, stale=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_compiled_module_older_than_its_source_is_named(tmp_path: Path, case: StaleCase) -> None:
    package = tmp_path / "suanli"
    (package / "state").mkdir(parents=True)
    source = package / "state" / "ties.py"
    extension = package / "state" / "ties.cpython-311-x86_64-linux-gnu.so"
    source.write_text("")
    extension.write_bytes(b"")
    earlier, later = 1_000_000_000, 1_000_000_100
    os.utime(source, (later, later) if case.source_after_extension else (earlier, earlier))
    os.utime(extension, (earlier, earlier) if case.source_after_extension else (later, later))
    assert stale_compiled_modules(package) == (["suanli/state/ties.py"] if case.stale else [])


def test_an_extension_without_a_source_beside_it_is_not_named(tmp_path: Path) -> None:
    package = tmp_path / "suanli"
    package.mkdir()
    (package / "shared__mypyc.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert stale_compiled_modules(package) == []
