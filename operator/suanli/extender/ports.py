"""What the extender's verbs are handed (a `Binder`, a `Recorder`: the Kubernetes I/O at the
edge) and the errors they raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class BadRequestError(Exception):
    """A request the extender refuses; `reason` labels the metric, the message goes to `Error`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Binder(Protocol):
    def bind(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Create the Binding (with annotations the apiserver copies onto the pod); raise
        BindError when the apiserver refuses it."""


class Recorder(Protocol):
    def placed(self, pod: Mapping[str, Any], explanation: dict[str, Any]) -> None:
        """The pod was bound (its placement annotation came with the Binding): the Event, and
        the clearing of an earlier unschedulable annotation."""

    def unschedulable(self, pod: Mapping[str, Any], message: str) -> None: ...


class BindError(Exception):
    """The binding did not happen. `refused`: the apiserver said no; otherwise (a 5xx) it may
    have been written all the same."""

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused
