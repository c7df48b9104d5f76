"""`suanli plan` on a cluster read: fits now (nodes, scores, quota, price), fits later (the
jobs that must end first), never fits (why), and what a queue's maximum refuses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.configfiles import ScoringConfigFiles
from suanli.controller import edge
from suanli.controller.jobpods import JobPods
from suanli.controller.plan import Cluster, PlanContext, plan_job
from suanli.controller.plan_answer import FITS_LATER, FITS_NOW, NEVER_FITS, NO_QUOTA, describe
from suanli.controller.slots import slots
from suanli.fleet import default_fleet, node_manifests
from tests.unit.controller.conftest import example

FILES = ScoringConfigFiles(None, None)
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ASCEND = [f"ascend-cnn1-{i}" for i in range(4)]


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(
    name: str, replicas: int, count: int, limit: str | None = "1h", **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": _stamp(NOW),
        },
        "spec": {
            "tasks": [
                {
                    "name": "w",
                    "replicas": replicas,
                    "accelerators": {"count": count, "types": ["Ascend910B"]},
                    "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                }
            ],
            **spec,
        },
    }
    if limit is not None:
        body["spec"]["runPolicy"] = {"timeLimit": limit}
    if replicas > 1:
        body["spec"]["gang"] = {"minMember": replicas}
    return body


def _fleet(busy_for: dict[str, str]) -> Cluster:
    """The demo fleet, with a running job of 8 devices on each named Ascend node."""
    jobs, pods = [], []
    for node, limit in busy_for.items():
        name = f"busy-{node[-1]}"
        body = _job(name, 1, 8, limit)
        body["metadata"]["creationTimestamp"] = _stamp(NOW - dt.timedelta(hours=1))
        body["status"] = {"phase": "Running", "startTime": _stamp(NOW - dt.timedelta(minutes=5))}
        jobs.append(body)
        pods.append(
            {
                "metadata": {
                    "name": f"{name}-w-0",
                    "namespace": "team",
                    "labels": {"suanli.dev/job": name, "suanli.dev/task": "w"},
                },
                "spec": {
                    "nodeName": node,
                    "containers": [
                        {"name": "c", "resources": {"limits": {"huawei.com/Ascend910": "8"}}}
                    ],
                },
                "status": {"phase": "Running"},
            }
        )
    queue = {
        "metadata": {"name": "research"},
        "spec": {
            "quotas": [{"resource": "Ascend910B", "nominal": 64}],
            "runtime": {"maxTimeLimit": "4h"},
        },
    }
    return Cluster(node_manifests(default_fleet()), pods, jobs, [queue])


@dataclass(frozen=True)
class Case:
    name: str
    busy: dict[str, str]
    job: dict[str, Any]
    verdict: str
    start: dt.datetime | None = None
    waits_for: tuple[str, ...] = ()
    reason: str = ""


HALF_BUSY = {ASCEND[0]: "10m", ASCEND[1]: "30m"}
CASES = (
    Case("fits now beside the busy nodes", HALF_BUSY, _job("pair", 2, 8), FITS_NOW, NOW),
    Case(
        "fits once the two running jobs end, by their limits",
        HALF_BUSY,
        _job("all", 4, 8),
        FITS_LATER,
        NOW + dt.timedelta(minutes=25),
        ("team/busy-0", "team/busy-1"),
    ),
    Case(
        "never fits: more devices than the pool has",
        HALF_BUSY,
        _job("huge", 5, 8),
        NEVER_FITS,
        reason="only 4 fit",
    ),
    Case(
        "a time limit over the queue's maximum",
        {},
        _job("long", 1, 1, "5h", queue="research"),
        NO_QUOTA,
        reason="spec.runtime.maxTimeLimit",
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan(case: Case) -> None:
    plan = plan_job(_fleet(case.busy), case.job, FILES, NOW)
    assert plan.verdict == case.verdict, plan
    assert plan.start == case.start
    if case.waits_for:
        assert tuple(plan.waits_for) == case.waits_for
    assert case.reason in plan.reason
    if case.verdict in (FITS_NOW, FITS_LATER):
        assert len(plan.pods) == case.job["spec"]["tasks"][0]["replicas"]
        assert all(p.node in ASCEND and p.breakdown for p in plan.pods)
        assert plan.price_per_hour is not None
        assert plan.price_per_hour > 0
        # An hour's limit: the cost at the limit is one hour's price.
        assert plan.cost_at_limit == pytest.approx(plan.price_per_hour)
    assert describe(plan, NOW)


def test_plan_names_the_quota_it_would_take() -> None:
    plan = plan_job(_fleet({}), _job("q", 2, 8, queue="research"), FILES, NOW)
    assert plan.verdict == FITS_NOW
    assert plan.queue == "research"
    assert plan.quota["Ascend910B"] == 16
    assert plan.time_limit == "1h"
    text = "\n".join(describe(plan, NOW))
    assert "queue research: would hold Ascend910B 16" in text


EXAMPLE_JOBS = [
    "batch-cpu.yaml",
    "edge-inference.yaml",
    "gpu-shares.yaml",
    "mpi-hpc.yaml",
    "training-gang.yaml",
]


@pytest.mark.parametrize("name", EXAMPLE_JOBS)
def test_plan_reads_a_jobs_pods_as_the_operator_makes_them(name: str) -> None:
    # Edge tolerations and share stacks included: the plan judges the pods the operator would
    # create, not a plainer version of them.
    job, meta = example(name)
    body = {**job.model_dump(mode="json", by_alias=True, exclude_none=True), "metadata": meta}
    nodes = node_manifests(default_fleet())
    context = PlanContext(Cluster(nodes, [], []), FILES)
    operator = JobPods(FILES, context.feed, edge.DEFAULTS)
    missing = slots(job, str(meta["name"]))
    assert context.demands(job, body, missing) == operator.demands(job, body, missing)
