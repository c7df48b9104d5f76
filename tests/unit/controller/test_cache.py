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


def _at(version: str, status: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """The job of `_JOB` at another resourceVersion, with a status (and metadata changes)."""
    return {
        **_JOB,
        "metadata": {**_JOB["metadata"], "resourceVersion": version, **metadata},
        "status": status,
    }


@pytest.mark.parametrize(
    ("news", "holds"),
    [
        pytest.param(
            {**_JOB, "metadata": {**_JOB["metadata"], "resourceVersion": "6", "managedFields": []}},
            True,
            id="the echo of our own status write",
        ),
        pytest.param(_at("6", {"phase": "Scheduling", "placed": 2}), False, id="status"),
        pytest.param({**_at("6", _JOB["status"]), "spec": {"tasks": []}}, False, id="spec"),
        pytest.param(_at("6", _JOB["status"], labels={"a": "c"}), False, id="labels"),
        pytest.param(_at("6", _JOB["status"], name="other"), False, id="unknown job"),
        pytest.param(_at("4", {"phase": "Queued"}), True, id="older than the cache"),
        pytest.param(
            _at("5", {"phase": "Queued"}), True, id="the version our own decision was made on"
        ),
        pytest.param(
            _at("3", {"phase": "Queued"}, uid="another"), False, id="a new job of the same name"
        ),
        pytest.param(_at("v2", {"phase": "Queued"}), False, id="a version that is not an integer"),
    ],
)
def test_only_news_of_a_job_beyond_what_the_cache_holds_asks_for_a_look(
    news: dict[str, Any], holds: bool
) -> None:
    cache = JobCache()
    cache.put_job(_JOB)
    assert cache.holds(news) is holds


def _phase(cache: JobCache) -> str:
    return str(cache.jobs[("ns", "j")]["status"]["phase"])


def test_news_older_than_our_own_write_never_replaces_it() -> None:
    # The watch lags: the job's Running comes after our preemption was written.
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running", "admission": {"queue": "q"}}))
    cache.writes(("ns", "j"))
    cache.put_job(_at("6", {"phase": "Running", "admission": {"queue": "q"}, "cost": 1}))
    assert _phase(cache) == "Running"
    assert cache.written(("ns", "j"), _at("7", {"phase": "Queued"})) is False
    assert _phase(cache) == "Queued"
    late = _at("6", {"phase": "Running", "admission": {"queue": "q"}, "cost": 1})
    assert cache.holds(late)
    cache.put_job(late)
    assert _phase(cache) == "Queued"
    cache.put_job(_at("7", {"phase": "Queued"}))  # the write's own echo
    assert _phase(cache) == "Queued"
    cache.put_job(_at("8", {"phase": "Succeeded"}))
    assert _phase(cache) == "Succeeded"


def test_the_echo_of_our_write_takes_the_place_of_its_answer() -> None:
    # The same state; the watch's copy shares its parts with what kopf keeps of the job, so
    # holding it instead of the write's answer holds one copy, not two.
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running"}))
    cache.writes(("ns", "j"))
    cache.written(("ns", "j"), _at("7", {"phase": "Queued"}))
    echo = _at("7", {"phase": "Queued"})
    assert cache.holds(echo)  # nothing to look at again
    cache.put_job(echo)
    assert cache.jobs[("ns", "j")]["status"] is echo["status"]


def test_news_newer_than_our_write_is_taken_when_the_write_returns_and_asks_for_a_look() -> None:
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running"}))
    cache.writes(("ns", "j"))
    someone_else = _at("8", {"phase": "Running"}, labels={"a": "c"})
    assert cache.holds(someone_else)  # not now: the write in flight decides
    cache.put_job(someone_else)
    assert cache.written(("ns", "j"), _at("7", {"phase": "Running", "placed": 2})) is True
    assert cache.jobs[("ns", "j")]["metadata"]["labels"] == {"a": "c"}


def test_a_write_without_an_answer_keeps_what_the_cache_holds_and_takes_newer_news() -> None:
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running"}))
    cache.jobs[("ns", "j")]["status"] = {"phase": "Succeeded"}  # the decision, not yet written
    cache.writes(("ns", "j"))
    assert cache.written(("ns", "j"), None) is False
    assert _phase(cache) == "Succeeded"
    cache.writes(("ns", "j"))
    cache.put_job(_at("6", {"phase": "Failed"}))
    assert cache.written(("ns", "j"), None) is True
    assert _phase(cache) == "Failed"


def test_writes_in_flight_together_keep_the_newest_answer() -> None:
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running"}))
    cache.writes(("ns", "j"))
    cache.writes(("ns", "j"))
    cache.put_job(_at("6", {"phase": "Running", "placed": 1}))
    assert cache.written(("ns", "j"), _at("8", {"phase": "Queued"})) is False
    assert cache.written(("ns", "j"), _at("7", {"phase": "Running", "placed": 2})) is False
    assert _phase(cache) == "Queued"


def test_a_job_deleted_during_a_write_is_not_brought_back_by_its_answer() -> None:
    cache = JobCache()
    cache.put_job(_at("5", {"phase": "Running"}))
    cache.writes(("ns", "j"))
    cache.put_job(_at("6", {"phase": "Running"}), deleted=True)
    assert cache.written(("ns", "j"), _at("7", {"phase": "Queued"})) is False
    assert ("ns", "j") not in cache.jobs
    cache.put_job(_at("9", {"phase": "Queued"}, uid="another"))  # created again
    assert _phase(cache) == "Queued"
