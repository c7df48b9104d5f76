"""List-then-watch of one resource kind into a handler, as client-go's reflector does.

Objects stay plain JSON dicts (decoding thousands of nodes into client models costs more than the
watch itself). A 410 Gone or a broken stream relists; `synced` is set after the first full list
so readiness can wait on it. With `missing_ok`, a resource the apiserver does not serve (a CRD not
installed yet) lists as empty and is listed again every few seconds until it appears.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from kubernetes.client.exceptions import ApiException

from suanli.kube.client import raw_json

ListFunc = Callable[..., Any]
Replace = Callable[[list[dict[str, Any]]], None]
Apply = Callable[[str, dict[str, Any]], None]

_WATCH_TIMEOUT_SECONDS = 300
_RETRY_SECONDS = 1.0
_MISSING_RETRY_SECONDS = 10.0
log = logging.getLogger(__name__)


class _ExpiredError(Exception):
    """The watch's resourceVersion is too old: relist."""


@dataclass
class Reflector:
    name: str
    list_func: ListFunc
    replace: Replace
    apply: Apply
    list_kwargs: dict[str, Any] = field(default_factory=dict)
    missing_ok: bool = False
    synced: threading.Event = field(default_factory=threading.Event)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"reflector-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                version = self._list()
                self._watch(version)
            except _ExpiredError:
                continue
            except Exception as error:  # any failure of the stream: relist after a pause
                # Said each time: until the relist works, the objects handed on may be stale.
                self.errors += 1
                log.warning(
                    "watch of %s failed (%d so far), relisting: %r", self.name, self.errors, error
                )
                time.sleep(_RETRY_SECONDS)

    def _list(self) -> str:
        try:
            response = self.list_func(_preload_content=False, **self.list_kwargs)
        except ApiException as error:
            if error.status != 404 or not self.missing_ok:
                raise
            # Nothing of a kind that is not served exists; look again later.
            self.replace([])
            self.synced.set()
            self._stop.wait(_MISSING_RETRY_SECONDS)
            raise _ExpiredError from None
        body = raw_json(response)
        self.replace(list(body.get("items") or []))
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> None:
        while not self._stop.is_set():
            for event in self._events(version):
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _ExpiredError
                    raise RuntimeError(obj.get("message", "watch error"))
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if kind != "BOOKMARK":
                    self.apply(str(kind), obj)

    def _events(self, version: str) -> Iterator[dict[str, Any]]:
        try:
            response = self.list_func(
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=_WATCH_TIMEOUT_SECONDS,
                _preload_content=False,
                **self.list_kwargs,
            )
        except ApiException as error:
            if error.status == 410:
                raise _ExpiredError from None
            raise
        buffer = b""
        for chunk in response.stream(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)
