"""A node's per-device usage kept as its pods come and go, rather than rebuilt from all of them.

`node_devices` (what a node's pods hold of its devices) places recorded allocations as written
and the pods without one at their best fit, in a fixed order: only the latter depend on the
other pods. While every pod that holds devices has its allocation recorded (what the simulator
and the extender's binds write), the usage is the plain sum of those allocations, and one pod
more or less adds or takes its own: the same tuple, without sorting and summing the node's pods
on every change. Otherwise it is rebuilt, exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from suanli.scoring import NodeFacts
from suanli.scoring.snapshot import PlacedPod, node_devices


class DeviceTally:
    """`node_devices(facts, pods)` of a node's pods, kept by the pods added and removed."""

    __slots__ = ("count", "devices", "marked", "pending", "resource")

    def __init__(self, facts: NodeFacts, pods: Iterable[PlacedPod] = ()) -> None:
        accelerator = facts.accelerator
        self.count = accelerator.count if accelerator is not None else -1
        self.resource = accelerator.resource if accelerator is not None else ""
        self.devices: tuple[int, ...] | None = None
        self.marked = 0  # pods with a share or recorded devices: without any, devices is None
        self.pending = 0  # pods holding devices with no (usable) allocation recorded
        held = list(pods)
        for pod in held:
            self._count(pod, 1, self._recorded(pod))
        self.devices = node_devices(facts, held)

    def _recorded(self, pod: PlacedPod) -> bool:
        """Is the pod's allocation one `rebuild` adds as written?"""
        allocation = pod.devices
        count = self.count
        return allocation is not None and all(0 <= i < count for i, _ in allocation)

    def _count(self, pod: PlacedPod, sign: int, recorded: bool) -> bool:
        """Count the pod in or out (`recorded`: whether its allocation is one `rebuild` adds as
        written); True when it holds devices it has no allocation for."""
        self.marked += sign * (pod.gpu_milli != 0 or pod.devices is not None)
        unrecorded = not recorded and pod.gpu_on(self.resource).wants
        self.pending += sign * unrecorded
        return unrecorded

    def change(
        self, facts: NodeFacts, pod: PlacedPod, sign: int, held: Iterable[PlacedPod]
    ) -> None:
        """The pod was added (sign 1) to or removed (-1) from `held`, the node's pods now."""
        if self.count < 0:
            return  # no accelerator: no devices
        pending_before = self.pending
        recorded = self._recorded(pod)
        unrecorded = self._count(pod, sign, recorded)
        if unrecorded or pending_before or self.pending:
            # Pods placed at their best fit depend on the others: rebuilt in the fixed order.
            self.devices = node_devices(facts, held)
        elif not self.marked:
            self.devices = None
        else:
            used = list(self.devices or (0,) * self.count)
            if recorded and pod.devices is not None:  # (recorded: it has some)
                for index, milli in pod.devices:
                    used[index] += sign * milli
            self.devices = tuple(used)
