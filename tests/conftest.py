"""Checks for the whole suite: a module compiled in place (`make compile`) must be built from its
current source, or the tests would run the code as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

_PACKAGE = Path(__file__).resolve().parent.parent / "operator" / "suanli"


def stale_compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """Sources newer than the extension compiled from them, as paths under the package."""
    stale = []
    for extension in sorted(package.rglob("*.so")):
        source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > extension.stat().st_mtime:
            stale.append(str(source.relative_to(package.parent)))
    return stale


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_compiled_modules()
    if stale:
        pytest.exit(
            f"compiled modules older than their source: {', '.join(stale)}; "
            "run `make compile` (or `bash hack/compile.sh --clean` for pure Python)",
            returncode=2,
        )
