"""The catalog and latency map, re-read when their files change (a ConfigMap update) so that
an edit takes effect without a restart; a broken edit keeps the last good version."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from suanli.scoring import (
    Catalog,
    CatalogError,
    LatencyError,
    LatencyMap,
    parse_catalog,
    parse_latency,
)


def _builtin(name: str) -> str:
    return resources.files("suanli.data").joinpath(name).read_text()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@dataclass
class _Loaded:
    catalog: Catalog
    latency: LatencyMap
    stamps: tuple[tuple[int, int] | None, tuple[int, int] | None]


class ScoringConfigFiles:
    """Thread-safe access to the current catalog and latency map."""

    def __init__(self, catalog: Path | None, latency: Path | None) -> None:
        self._catalog_path = catalog
        self._latency_path = latency
        self._lock = threading.Lock()
        self.last_error = ""
        self.reloads = 0
        self._failed_stamps: tuple[tuple[int, int] | None, tuple[int, int] | None] | None = None
        self._loaded = self._load()

    def _load(self) -> _Loaded:
        catalog_text = (
            self._catalog_path.read_text() if self._catalog_path else _builtin("catalog.yaml")
        )
        latency_text = (
            self._latency_path.read_text() if self._latency_path else _builtin("latency.yaml")
        )
        return _Loaded(
            parse_catalog(catalog_text, str(self._catalog_path or "built-in catalog")),
            parse_latency(latency_text, str(self._latency_path or "built-in latency map")),
            self._stamps(),
        )

    def _stamps(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        return (
            _stamp(self._catalog_path) if self._catalog_path else None,
            _stamp(self._latency_path) if self._latency_path else None,
        )

    def refresh(self) -> bool:
        """Re-read the files if they changed; True when a new version took effect."""
        with self._lock:
            stamps = self._stamps()
            if stamps in (self._loaded.stamps, self._failed_stamps):
                return False
            try:
                self._loaded = self._load()
            except (OSError, CatalogError, LatencyError) as error:
                self.last_error = str(error)
                self._failed_stamps = stamps
                return False
            self.last_error = ""
            self.reloads += 1
            return True

    @property
    def catalog(self) -> Catalog:
        return self._loaded.catalog

    @property
    def latency(self) -> LatencyMap:
        return self._loaded.latency
