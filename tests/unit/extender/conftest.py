"""An extender service over the demo fleet, with a recording binder and recorder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from suanli.configfiles import ScoringConfigFiles
from suanli.extender.owners import KnownJobs
from suanli.extender.ports import BindError
from suanli.extender.service import ExtenderService
from suanli.extender.settings import ExtenderSettings
from suanli.fleet import default_fleet, node_manifests
from suanli.metrics import ExtenderMetrics
from suanli.state import ClusterFeed


@dataclass
class FakeBinder:
    bound: list[tuple[str, str, str, str]] = field(default_factory=list)
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)  # by pod name
    refuse: bool = False

    def bind(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        if self.refuse:
            raise BindError(f"binding pod {namespace}/{name} to {node} failed: 409 Conflict")
        self.bound.append((namespace, name, uid, node))
        self.annotations[name] = dict(annotations or {})


@dataclass
class FakeRecorder:
    placements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)

    def placed(self, pod: Mapping[str, Any], explanation: dict[str, Any]) -> None:
        self.placements.append((pod["metadata"]["name"], explanation))

    def unschedulable(self, pod: Mapping[str, Any], message: str) -> None:
        self.waiting.append((pod["metadata"]["name"], message))


@dataclass
class Harness:
    service: ExtenderService
    binder: FakeBinder
    recorder: FakeRecorder
    node_names: list[str]


@pytest.fixture
def harness() -> Harness:
    config_files = ScoringConfigFiles(None, None)
    cache = ClusterFeed(lambda: config_files.catalog)
    nodes = list(node_manifests(default_fleet()))
    for node in nodes:  # as KWOK leaves them: Ready
        node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    cache.replace_nodes(nodes)
    cache.replace_pods([])
    binder, recorder = FakeBinder(), FakeRecorder()
    service = ExtenderService(
        settings=ExtenderSettings(),
        cache=cache,
        config_files=config_files,
        metrics=ExtenderMetrics(),
        binder=binder,
        recorder=recorder,
        jobs=KnownJobs([JOB]),
    )
    return Harness(service, binder, recorder, [n["metadata"]["name"] for n in nodes])


# The ComputeJob the harness knows; `pod()` gives its pods this owner unless told otherwise.
JOB = {"metadata": {"namespace": "team", "name": "job", "uid": "uid-job"}}
JOB_OWNER = {
    "apiVersion": "suanli.dev/v1alpha1",
    "kind": "ComputeJob",
    "name": "job",
    "uid": "uid-job",
    "controller": True,
}


def pod(
    name: str,
    demand: str | None = None,
    gpus: int = 0,
    scheduler: str = "suanli-scheduler",
    uid: str | None = None,
    owners: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    annotations = {"suanli.dev/demand": demand} if demand is not None else {}
    resources: dict[str, Any] = {"requests": {"cpu": "1", "memory": "1Gi"}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": uid or f"uid-{name}",
            "annotations": annotations,
            "ownerReferences": [JOB_OWNER] if owners is None else owners,
        },
        "spec": {"schedulerName": scheduler, "containers": [{"name": "c", "resources": resources}]},
    }
