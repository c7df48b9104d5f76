"""The operator's work queue: each job at most once in the queue and never reconciled by two
workers at the same time (a job that changes while it is reconciled is queued again after)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class WorkQueue(Generic[Key]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._processing: set[Key] = set()
        self._dirty: set[Key] = set()

    def add(self, key: Key) -> None:
        if key in self._processing:
            self._dirty.add(key)  # seen again once the running reconcile is done
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    async def get(self) -> Key:
        """The next job to reconcile; call `done` with it when finished."""
        key = await self._queue.get()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Key) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def waiting(self) -> frozenset[Key]:
        """The jobs queued and not yet taken by a worker."""
        return frozenset(self._queued)

    def idle(self) -> bool:
        """Nothing queued and nothing being reconciled."""
        return not (self._queued or self._processing or self._dirty)

    def __len__(self) -> int:
        return len(self._queued) + len(self._dirty)
