"""The operator's work queue: each job at most once in the queue and never reconciled by two
workers at the same time (a job that changes while it is reconciled is queued again after).

Two lanes. Jobs that only wait for quota are re-planned in bulk (every waiting job whenever
capacity frees, and after each of their own status writes), so they would fill a single line:
a job admitted meanwhile, or one whose pods just ended, would wait behind all of them for the
reconcile that creates its pods or releases its quota, holding quota while nothing runs. Those
go first (the prompt lane); the waiting jobs (the background lane) still get every
BACKGROUND_EVERY-th turn while prompt work is queued, so admission cycles keep running.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
# While both lanes hold jobs, one turn in this many goes to the background lane.
BACKGROUND_EVERY = 4


class WorkQueue(Generic[Key]):
    def __init__(self) -> None:
        self._prompt: deque[Key] = deque()
        self._background: deque[Key] = deque()
        self._lane: dict[Key, bool] = {}  # queued jobs: True when in the prompt lane
        self._processing: set[Key] = set()
        self._dirty: dict[Key, bool] = {}  # changed while reconciled: the lane to go back to
        self._ready = asyncio.Event()
        self._turns = 0

    def add(self, key: Key, *, prompt: bool = True) -> None:
        if key in self._processing:
            # Seen again once the running reconcile is done; prompt if any add asked for it.
            self._dirty[key] = self._dirty.get(key, False) or prompt
            return
        lane = self._lane.get(key)
        if lane is None:
            self._lane[key] = prompt
            (self._prompt if prompt else self._background).append(key)
        elif prompt and not lane:
            # Moved ahead: its background entry is skipped when reached.
            self._lane[key] = True
            self._prompt.append(key)
        self._ready.set()

    def _take(self) -> Key | None:
        self._turns += 1
        lanes = [self._prompt, self._background]
        if self._turns % BACKGROUND_EVERY == 0:
            lanes.reverse()
        for lane in lanes:
            while lane:
                key = lane.popleft()
                if key in self._lane and self._lane[key] == (lane is self._prompt):
                    del self._lane[key]
                    return key
        return None

    async def get(self) -> Key:
        """The next job to reconcile; call `done` with it when finished."""
        while True:
            key = self._take()
            if key is not None:
                self._processing.add(key)
                return key
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: Key) -> None:
        self._processing.discard(key)
        prompt = self._dirty.pop(key, None)
        if prompt is not None:
            self.add(key, prompt=prompt)

    def waiting(self) -> frozenset[Key]:
        """The jobs queued and not yet taken by a worker."""
        return frozenset(self._lane)

    def idle(self) -> bool:
        """Nothing queued and nothing being reconciled."""
        return not (self._lane or self._processing or self._dirty)

    def __len__(self) -> int:
        return len(self._lane) + len(self._dirty)
