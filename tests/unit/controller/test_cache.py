"""The operator keeps slim pods: everything its decisions read, none of the template's bulk."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.controller.cache import JobCache, slim_pod
from suanli.scoring import parse_pod, pod_requests
from suanli.state import placed_pod


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "job-work-0",
            "namespace": "team",
            "uid": "u-1",
            "resourceVersion": "7",
            "labels": {"suanli.dev/job": "job", "suanli.dev/task": "work"},
            "annotations": {"suanli.dev/demand": '{"acceleratorTypes":["H100"]}'},
            "managedFields": [{"manager": "suanli-operator", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "nodeName": "h100-0",
            "schedulerName": "suanli-scheduler",
            "tolerations": [{"key": "edge", "operator": "Exists"}],
            "containers": [
                {
                    "name": "main",
                    "image": "trainer:1",
                    "command": ["python", "train.py"],
                    "env": [{"name": "X", "value": "y" * 1000}],
                    "resources": {"limits": {"nvidia.com/gpu": "2", "cpu": "4"}},
                }
            ],
            "initContainers": [
                {
                    "name": "proxy",
                    "image": "proxy:1",
                    "restartPolicy": "Always",
                    "resources": {"requests": {"cpu": "1"}},
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
        "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"},
    }


def test_a_slim_pod_answers_every_question_the_full_one_does() -> None:
    full, slim = _pod(), slim_pod(_pod())
    assert pod_requests(slim) == pod_requests(full)
    assert parse_pod(slim) == parse_pod(full)
    assert placed_pod(slim) == placed_pod(full)
    assert slim["status"] == full["status"]
    assert {k: v for k, v in slim["metadata"].items()} == {
        k: v for k, v in full["metadata"].items() if k != "managedFields"
    }


def test_a_slim_pod_drops_the_template_and_the_managed_fields() -> None:
    slim = slim_pod(_pod())
    assert "managedFields" not in slim["metadata"]
    assert "volumes" not in slim["spec"]
    assert slim["spec"]["containers"] == [
        {"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2", "cpu": "4"}}}
    ]


def test_the_cache_keeps_pods_slim() -> None:
    cache = JobCache()
    key = cache.put_pod(_pod(), "job")
    assert cache.pods[key]["job-work-0"] == slim_pod(_pod())


def _holders_by_walk(cache: JobCache) -> dict[str, tuple[tuple[str, str], str]]:
    """The pods holding room, found by walking every pod (what the index saves)."""
    found = {}
    for key, pods in cache.pods.items():
        for name, pod in pods.items():
            ended = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            planned = (pod["metadata"].get("annotations") or {}).get("suanli.dev/planned-node")
            if not ended and (pod["spec"].get("nodeName") or planned):
                found[f"{key[0]}/{name}"] = (key, name)
    return found


def _job_pod(name: str, *, node: str = "", planned: str = "", phase: str = "Pending") -> Any:
    annotations = {"suanli.dev/planned-node": planned} if planned else {}
    return {
        "metadata": {"name": name, "namespace": "team", "annotations": annotations},
        "spec": {"nodeName": node, "containers": []} if node else {"containers": []},
        "status": {"phase": phase},
    }


def test_the_index_of_pods_holding_room_follows_every_change() -> None:
    cache = JobCache()
    cache.put_job({"metadata": {"namespace": "team", "name": "a"}})
    steps = [
        lambda: cache.put_pod(_job_pod("a-0", planned="n1"), "a"),  # our manifest
        lambda: cache.put_pod(_job_pod("a-1"), "a"),  # no plan: holds nothing yet
        lambda: cache.put_pod(_job_pod("a-1", node="n2", phase="Running"), "a"),
        lambda: cache.put_pod(_job_pod("a-2", node="n3", phase="Succeeded"), "a"),
        lambda: cache.forget_manifest(_job_pod("a-0", planned="n1"), "a"),
        lambda: cache.put_pod(_job_pod("b-0", planned="n4"), "b"),
        lambda: cache.put_job({"metadata": {"namespace": "team", "name": "b"}}, deleted=True),
        lambda: cache.replace_job_pods(("team", "a"), [_job_pod("a-3", node="n5")]),
        lambda: cache.put_pod(_job_pod("a-3"), "a", deleted=True),
        lambda: cache.replace_pods([(_job_pod("c-0", planned="n6"), "c")]),
    ]
    for step in steps:
        step()
        assert {k: (v[0], v[1]["metadata"]["name"]) for k, v in cache.holders.items()} == (
            _holders_by_walk(cache)
        )
    assert set(cache.holders) == {"team/c-0"}


_JOB: dict[str, Any] = {
    "metadata": {"name": "j", "namespace": "ns", "resourceVersion": "5", "labels": {"a": "b"}},
    "spec": {"tasks": [{"name": "t", "replicas": 2}]},
    "status": {"phase": "Scheduling", "placed": 1},
}


@pytest.mark.parametrize(
    ("news", "holds"),
    [
        pytest.param(
            {**_JOB, "metadata": {**_JOB["metadata"], "resourceVersion": "6", "managedFields": []}},
            True,
            id="the echo of our own status write",
        ),
        pytest.param({**_JOB, "status": {"phase": "Scheduling", "placed": 2}}, False, id="status"),
        pytest.param({**_JOB, "spec": {"tasks": []}}, False, id="spec"),
        pytest.param(
            {**_JOB, "metadata": {**_JOB["metadata"], "labels": {"a": "c"}}}, False, id="labels"
        ),
        pytest.param(
            {**_JOB, "metadata": {**_JOB["metadata"], "name": "other"}}, False, id="unknown job"
        ),
    ],
)
def test_only_news_of_a_job_beyond_what_the_cache_holds_asks_for_a_look(
    news: dict[str, Any], holds: bool
) -> None:
    cache = JobCache()
    cache.put_job(_JOB)
    assert cache.holds(news) is holds
