"""Whose scheduling annotations the extender believes: those of a pod a known ComputeJob owns.

Anyone allowed to create pods can write `suanli.dev/demand` or `suanli.dev/planned-node` by hand;
the admission policy refuses that at the apiserver, and this check keeps the extender from
honouring such a pod where the policy is off or unavailable. The ComputeJobs are known by
namespace, name and uid from a watch; nothing else of a job is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from suanli.api.models import API_VERSION, KIND
from suanli.keys import SCHEDULING_ANNOTATIONS


class Distrust(StrEnum):
    """Why a pod's scheduling annotations are not believed."""

    # No ComputeJob owns it: no retry can help.
    UNOWNED = "unowned"
    # It names a ComputeJob the watch has not shown (yet): the job may be seconds old.
    UNKNOWN_OWNER = "unknown_owner"


@dataclass(frozen=True)
class Refusal:
    kind: Distrust
    message: str


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


class KnownJobs:
    """ComputeJobs by (namespace, name) -> uid, fed by a list-watch (replace, apply)."""

    def __init__(self, jobs: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._uids: dict[tuple[str, str], str] = {}
        self.replace(list(jobs))

    @staticmethod
    def _key(job: Mapping[str, Any]) -> tuple[tuple[str, str], str]:
        metadata = _metadata(job)
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        return key, str(metadata.get("uid") or "")

    def replace(self, jobs: list[dict[str, Any]] | list[Mapping[str, Any]]) -> None:
        uids = dict(self._key(job) for job in jobs)
        with self._lock:
            self._uids = uids

    def apply(self, event: str, job: Mapping[str, Any]) -> None:
        key, uid = self._key(job)
        with self._lock:
            if event == "DELETED":
                if self._uids.get(key) == uid:
                    del self._uids[key]
            else:
                self._uids[key] = uid

    def uid(self, namespace: str, name: str) -> str | None:
        return self._uids.get((namespace, name))

    def __len__(self) -> int:
        return len(self._uids)


def carries_scheduling_annotations(pod: Mapping[str, Any]) -> list[str]:
    annotations = _metadata(pod).get("annotations") or {}
    return [key for key in SCHEDULING_ANNOTATIONS if key in annotations]


def _job_owners(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    owners = _metadata(pod).get("ownerReferences") or []
    return [
        ref
        for ref in owners
        if isinstance(ref, Mapping)
        and ref.get("kind") == KIND
        and ref.get("apiVersion") == API_VERSION
    ]


def refusal(pod: Mapping[str, Any], jobs: KnownJobs) -> Refusal | None:
    """None when the pod may be placed by its annotations (it has none, or a known ComputeJob
    owns it); else why not, naming the annotations and what to do instead."""
    keys = carries_scheduling_annotations(pod)
    if not keys:
        return None
    metadata = _metadata(pod)
    namespace = str(metadata.get("namespace") or "default")
    where = f"pod {namespace}/{metadata.get('name', '?')}"
    carried = ", ".join(keys)
    owners = _job_owners(pod)
    if not owners:
        return Refusal(
            Distrust.UNOWNED,
            f"{where} carries {carried} but no ComputeJob owns it (metadata.ownerReferences): "
            f"only the pods the operator creates for a ComputeJob are placed by these "
            f"annotations; submit a ComputeJob, or drop the annotations to be placed without "
            f"requirements",
        )
    for ref in owners:
        if jobs.uid(namespace, str(ref.get("name") or "")) == str(ref.get("uid") or ""):
            return None
    named = ", ".join(f"{ref.get('name')} (uid {ref.get('uid')})" for ref in owners)
    return Refusal(
        Distrust.UNKNOWN_OWNER,
        f"{where} carries {carried} and names ComputeJob {named} as its owner, which the "
        f"extender does not know in {namespace}: a job created a moment ago is retried shortly; "
        f"one that does not exist never is",
    )
