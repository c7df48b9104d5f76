"""What the fault suite counts, from what it saw of the pods: pure bookkeeping, no I/O.

Every observation of a pod (a watch event, or an item of a fresh list) goes through `Tracker.see`,
which checks on the way:

- a pod seen bound to one node and later to another (bound twice);
- two live pods for one slot of a job (the same task and index) at once (duplicated);
- a device handed to live pods beyond its capacity (whole devices, or shares summing past 1000
  milli), from the `suanli.dev/gpu-devices` annotation the extender writes with the binding.

A pod is live until it ends (Succeeded or Failed) or is deleted; a pod being deleted still holds
its devices. At the end, `verdict` adds the jobs that did not succeed (lost) and the live pods
that no node took (stuck: at the end every other job has finished, so capacity exists).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.keys import GPU_DEVICES_ANNOTATION, INDEX_LABEL, JOB_LABEL, TASK_LABEL
from suanli.scoring.devices import MILLI_PER_DEVICE, Allocation, AllocationError, parse_allocation

ENDED = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class PodSeen:
    """One observation of a pod: what the checks need of it."""

    uid: str
    name: str
    job: str
    slot: str  # task/index within the job
    node: str
    phase: str
    devices: str
    gone: bool = False  # deleted

    @property
    def live(self) -> bool:
        return not self.gone and self.phase not in ENDED

    @classmethod
    def of(cls, pod: Mapping[str, Any], gone: bool = False) -> PodSeen:
        metadata = pod.get("metadata") or {}
        labels = metadata.get("labels") or {}
        annotations = metadata.get("annotations") or {}
        return cls(
            uid=str(metadata.get("uid", "")),
            name=str(metadata.get("name", "")),
            job=str(labels.get(JOB_LABEL, "")),
            slot=f"{labels.get(TASK_LABEL, '')}/{labels.get(INDEX_LABEL, '')}",
            node=str((pod.get("spec") or {}).get("nodeName") or ""),
            phase=str((pod.get("status") or {}).get("phase") or "Pending"),
            devices=str(annotations.get(GPU_DEVICES_ANNOTATION, "")),
            gone=gone,
        )


@dataclass(frozen=True)
class Overcommit:
    node: str
    device: int
    milli: int
    pods: tuple[str, ...]


@dataclass
class Tracker:
    """The pods as seen so far, and every violation found on the way."""

    pods: dict[str, PodSeen] = field(default_factory=dict)
    bound_twice: dict[str, tuple[str, str]] = field(default_factory=dict)  # uid -> nodes
    duplicated: set[tuple[str, str]] = field(default_factory=set)  # (job, slot)
    overcommits: list[Overcommit] = field(default_factory=list)
    unreadable_devices: set[str] = field(default_factory=set)
    created: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    _live_by_slot: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    _holding: dict[str, tuple[str, Allocation]] = field(default_factory=dict)
    _used: dict[str, dict[int, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )

    def see(self, seen: PodSeen) -> None:
        before = self.pods.get(seen.uid)
        if before is not None and before.node and seen.node and before.node != seen.node:
            self.bound_twice[seen.uid] = (before.node, seen.node)
        if before is not None and not before.gone and seen.gone:
            # A deletion event carries the pod's last state: keep its node for the record.
            seen = PodSeen(**{**seen.__dict__, "node": seen.node or before.node})
        self.pods[seen.uid] = seen
        if seen.job:
            self.created[(seen.job, seen.slot)].add(seen.uid)
            self._track_slot(seen)
        self._track_devices(seen)

    def relisted(self, items: Iterable[Mapping[str, Any]]) -> None:
        """A fresh list after the watch lost its place: pods missing from it are gone."""
        listed = {PodSeen.of(item).uid: item for item in items}
        for uid, seen in list(self.pods.items()):
            if uid not in listed and not seen.gone:
                self.see(PodSeen(**{**seen.__dict__, "gone": True}))
        for item in listed.values():
            self.see(PodSeen.of(item))

    def _track_slot(self, seen: PodSeen) -> None:
        key = (seen.job, seen.slot)
        live = self._live_by_slot[key]
        if seen.live:
            live.add(seen.uid)
            if len(live) > 1:
                self.duplicated.add(key)
        else:
            live.discard(seen.uid)

    def _track_devices(self, seen: PodSeen) -> None:
        wanted: tuple[str, Allocation] | None = None
        if seen.live and seen.node and seen.devices:
            try:
                wanted = (seen.node, parse_allocation(seen.devices))
            except AllocationError:
                self.unreadable_devices.add(seen.uid)
        held = self._holding.get(seen.uid)
        if held == wanted:
            return
        if held is not None:
            node, allocation = held
            for device, _ in allocation:
                self._used[node][device].pop(seen.uid, None)
            del self._holding[seen.uid]
        if wanted is None:
            return
        self._holding[seen.uid] = wanted
        node, allocation = wanted
        for device, milli in allocation:
            holders = self._used[node][device]
            holders[seen.uid] = milli
            total = sum(holders.values())
            if total > MILLI_PER_DEVICE:
                names = tuple(sorted(self.pods[uid].name for uid in holders))
                self.overcommits.append(Overcommit(node, device, total, names))


@dataclass(frozen=True)
class Verdict:
    lost: dict[str, str]  # job -> its phase at the end ("missing" when gone)
    duplicated: list[str]
    bound_twice: list[str]
    stuck: list[str]
    overcommitted: list[str]
    recreated_slots: int

    def counts(self) -> dict[str, int]:
        return {
            "lost_jobs": len(self.lost),
            "duplicated_pods": len(self.duplicated),
            "pods_bound_twice": len(self.bound_twice),
            "stuck_pods": len(self.stuck),
            "device_overcommits": len(self.overcommitted),
        }

    @property
    def clean(self) -> bool:
        return not any(self.counts().values())


def verdict(tracker: Tracker, submitted: Iterable[str], phases: Mapping[str, str]) -> Verdict:
    """The counts at the end: `phases` holds every ComputeJob's phase as listed last."""
    lost = {
        name: phases.get(name, "missing")
        for name in sorted(submitted)
        if phases.get(name) != "Succeeded"
    }
    stuck = sorted(p.name for p in tracker.pods.values() if p.live and not p.node)
    return Verdict(
        lost=lost,
        duplicated=sorted(f"{job} {slot}" for job, slot in tracker.duplicated),
        bound_twice=sorted(
            f"{tracker.pods[uid].name}: {a} then {b}" for uid, (a, b) in tracker.bound_twice.items()
        ),
        stuck=stuck,
        overcommitted=[
            f"{o.node} device {o.device}: {o.milli} milli to {', '.join(o.pods)}"
            for o in tracker.overcommits
        ],
        recreated_slots=sum(1 for uids in tracker.created.values() if len(uids) > 1),
    )
