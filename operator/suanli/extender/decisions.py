"""The filter's decision for each pod, kept for the bind that follows (which writes its
explanation): by pod UID, the newest few thousand."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suanli.state import Choice

# Filter results kept for the bind that follows.
DECISION_MEMORY = 4096


@dataclass(frozen=True)
class Remembered:
    pod: Mapping[str, Any]
    decision: Choice | None


class Decisions:
    """The last filter decision per pod UID, the oldest dropped past DECISION_MEMORY."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, Remembered] = OrderedDict()

    def remember(self, pod: Mapping[str, Any], decision: Choice | None) -> None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if not uid:
            return
        # Kept until the bind: only what the explanation reads, not one entry per node.
        summary = decision.summary() if decision is not None else None
        self._kept[uid] = Remembered(pod, summary)
        self._kept.move_to_end(uid)
        while len(self._kept) > DECISION_MEMORY:
            self._kept.popitem(last=False)

    def get(self, uid: str) -> Remembered | None:
        return self._kept.get(uid)

    def forget(self, uid: str) -> None:
        self._kept.pop(uid, None)

    def __len__(self) -> int:
        return len(self._kept)
