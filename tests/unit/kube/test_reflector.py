"""The reflector lists, then watches; a failed stream is said in the log and relisted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from suanli.kube import reflector as reflector_module
from suanli.kube.reflector import Reflector


@dataclass
class _Listed:
    data: bytes


@dataclass
class _Stream:
    lines: list[dict[str, Any]]

    def stream(self, _: int) -> Iterator[bytes]:
        for line in self.lines:
            yield orjson.dumps(line) + b"\n"


@dataclass
class _Apiserver:
    """Fails the first list with `failure`, then lists one node and watches one change."""

    failure: BaseException
    calls: list[str] = field(default_factory=list)

    def __call__(self, *, _preload_content: bool, watch: bool = False, **_: Any) -> Any:
        self.calls.append("watch" if watch else "list")
        if len(self.calls) == 1:
            raise self.failure
        if not watch:
            items = [{"metadata": {"name": "gpu-1", "resourceVersion": "5"}}]
            return _Listed(orjson.dumps({"items": items, "metadata": {"resourceVersion": "5"}}))
        change = {"metadata": {"name": "gpu-1", "resourceVersion": "6"}, "spec": {}}
        return _Stream([{"type": "MODIFIED", "object": change}])


def test_a_failed_list_is_logged_and_listed_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reflector_module, "_RETRY_SECONDS", 0.0)
    apiserver = _Apiserver(ConnectionResetError("connection reset by peer"))
    listed: list[list[dict[str, Any]]] = []
    applied: list[tuple[str, str]] = []
    changed = threading.Event()

    def apply(kind: str, obj: dict[str, Any]) -> None:
        applied.append((kind, obj["metadata"]["resourceVersion"]))
        watched.stop()  # one change is enough
        changed.set()

    watched = Reflector("nodes", apiserver, listed.append, apply)
    with caplog.at_level(logging.WARNING, logger="suanli.kube.reflector"):
        watched.start()
        assert changed.wait(5)
    assert apiserver.calls == ["list", "list", "watch"]
    assert [len(items) for items in listed] == [1]
    assert applied == [("MODIFIED", "6")]
    assert watched.errors == 1
    assert [r.getMessage() for r in caplog.records] == [
        "watch of nodes failed (1 so far), relisting: "
        "ConnectionResetError('connection reset by peer')"
    ]
