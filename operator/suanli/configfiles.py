"""The catalog, latency map and data policy, re-read when their files change (a ConfigMap
update) so that an edit takes effect without a restart; a broken edit keeps the last good
version."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from suanli.scoring import (
    Catalog,
    CatalogError,
    DataPolicy,
    DataPolicyError,
    LatencyError,
    LatencyMap,
    parse_catalog,
    parse_data_policy,
    parse_latency,
)

_Stamp = tuple[int, int] | None


def _builtin(name: str) -> str:
    return resources.files("suanli.data").joinpath(name).read_text()


def _stamp(path: Path | None) -> _Stamp:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _text(path: Path | None, builtin: str) -> str:
    return path.read_text() if path else _builtin(builtin)


@dataclass
class _Loaded:
    catalog: Catalog
    latency: LatencyMap
    data_policy: DataPolicy
    stamps: tuple[_Stamp, ...]


class ScoringConfigFiles:
    """Thread-safe access to the current catalog, latency map and data policy."""

    def __init__(
        self, catalog: Path | None, latency: Path | None, data_policy: Path | None = None
    ) -> None:
        self._catalog_path = catalog
        self._latency_path = latency
        self._data_policy_path = data_policy
        self._lock = threading.Lock()
        self.last_error = ""
        self.reloads = 0
        self._failed_stamps: tuple[_Stamp, ...] | None = None
        self._loaded = self._load()

    def _load(self) -> _Loaded:
        catalog, latency, policy = self._catalog_path, self._latency_path, self._data_policy_path
        return _Loaded(
            parse_catalog(_text(catalog, "catalog.yaml"), str(catalog or "built-in catalog")),
            parse_latency(_text(latency, "latency.yaml"), str(latency or "built-in latency map")),
            parse_data_policy(
                _text(policy, "data-policy.yaml"), str(policy or "built-in data policy")
            ),
            self._stamps(),
        )

    def _stamps(self) -> tuple[_Stamp, ...]:
        return tuple(map(_stamp, (self._catalog_path, self._latency_path, self._data_policy_path)))

    def refresh(self) -> bool:
        """Re-read the files if they changed; True when a new version took effect."""
        with self._lock:
            stamps = self._stamps()
            if stamps in (self._loaded.stamps, self._failed_stamps):
                return False
            try:
                self._loaded = self._load()
            except (OSError, CatalogError, LatencyError, DataPolicyError) as error:
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

    @property
    def data_policy(self) -> DataPolicy:
        return self._loaded.data_policy
