"""The owner reference every object the operator makes for a job carries. Pure.

`controller: true` names the job as the one manager of the object, and the garbage collector
deletes the object with its job, so no finalizer is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.api.models import API_VERSION, KIND


def owner_references(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The job's metadata in; the `ownerReferences` of its pods, Service, ConfigMap, Secret out."""
    return [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def owned_by(body: Mapping[str, Any], uid: str) -> bool:
    """True when the object names the job of this uid as its controller."""
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("controller") for r in refs)
