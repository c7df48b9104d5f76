"""The reconcile loop around the pure lifecycle: big jobs take turns, freed capacity re-plans."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from suanli.configfiles import ScoringConfigFiles
from suanli.controller import facts as facts_module
from suanli.controller.service import JobController
from suanli.controller.writes import POD_CREATES_AT_ONCE
from suanli.fleet import default_fleet, node_manifests
from suanli.metrics import OperatorMetrics
from suanli.state import ClusterFeed
from tests.unit.controller.conftest import example

FILES = ScoringConfigFiles(None, None)


class FakeStore:
    """Records writes; `list_pods` answers from what was created."""

    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []  # (job, pod)
        self.pods: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.queue_statuses: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.objects: dict[str, dict[str, Any]] = {}  # "Kind/name" -> the stored object
        self.jobs: list[dict[str, Any]] = []  # what `list_jobs` answers

    async def list_jobs(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.jobs)

    async def list_pods(self, namespace: str, job: str) -> list[dict[str, Any]]:
        return [p for p in self.pods.values() if p["metadata"]["labels"]["suanli.dev/job"] == job]

    async def list_pod_names(self, namespace: str, job: str) -> set[str]:
        return {p["metadata"]["name"] for p in await self.list_pods(namespace, job)}

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        job = manifest["metadata"]["labels"]["suanli.dev/job"]
        if manifest["metadata"]["name"] in self.pods:
            return False
        self.created.append((job, manifest["metadata"]["name"]))
        self.pods[manifest["metadata"]["name"]] = copy.deepcopy(manifest)
        await asyncio.sleep(0)
        return True

    async def delete_pod(self, namespace: str, name: str) -> None:
        self.deleted.append(name)

    async def create_object(
        self, namespace: str, manifest: dict[str, Any], *, read_existing: bool = True
    ) -> dict[str, Any] | None:
        key = f"{manifest['kind']}/{manifest['metadata']['name']}"
        self.created.append(("", key))
        if key in self.objects:
            return copy.deepcopy(self.objects[key]) if read_existing else None
        self.objects[key] = copy.deepcopy(manifest)
        return copy.deepcopy(manifest)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.statuses[name] = status

    async def patch_queue_status(self, name: str, status: dict[str, Any]) -> None:
        self.queue_statuses[name] = status

    async def delete_job(self, namespace: str, name: str) -> None:
        return None


async def _no_event(job: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    return None


def _controller(store: FakeStore) -> JobController:
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(node_manifests(default_fleet()))
    return JobController(
        store=store,  # type: ignore[arg-type]
        cluster=feed,
        config_files=FILES,
        metrics=OperatorMetrics(),
        post_event=_no_event,
    )


def _batch_job(name: str, replicas: int) -> dict[str, Any]:
    job, meta = example("batch-cpu.yaml")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["metadata"] = {**copy.deepcopy(meta), "name": name, "uid": f"uid-{name}"}
    body["spec"]["tasks"][0]["replicas"] = replicas
    return body


def test_a_big_job_is_created_in_turns_and_other_jobs_go_in_between() -> None:
    async def scenario() -> list[tuple[str, str]]:
        store = FakeStore()
        controller = _controller(store)
        for body in (_batch_job("big", 450), _batch_job("small", 2)):
            key = controller.cache.put_job(body)
            controller.enqueue(key)
        worker = asyncio.ensure_future(controller.worker())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(store.created) == 452:
                break
        worker.cancel()
        return store.created

    created = asyncio.run(scenario())
    jobs = [job for job, _ in created]
    assert len(created) == 452
    assert len(set(created)) == 452  # nothing created twice
    # The small job was served after the big job's first batch, not after all of it.
    assert jobs.index("small") == 200
    assert jobs.count("big") == 450


def test_freed_capacity_re_plans_only_waiting_jobs() -> None:
    async def scenario() -> set[tuple[str, str]]:
        controller = _controller(FakeStore())
        queued = _batch_job("waiting", 1)
        queued["status"] = {"phase": "Queued"}
        running = _batch_job("running", 1)
        running["status"] = {"phase": "Running"}
        controller.cache.put_job(queued)
        controller.cache.put_job(running)
        listener = controller.capacity_freed(asyncio.get_running_loop())
        # A burst of freed nodes, from a watch thread, re-plans once.
        await asyncio.to_thread(lambda: [listener(f"n{i}") for i in range(50)])
        await asyncio.sleep(0.3)
        return set(controller.waiting())

    assert asyncio.run(scenario()) == {("team", "waiting")}


def test_a_manifest_never_hides_what_the_watch_already_showed() -> None:
    controller = _controller(FakeStore())
    watched = {
        "metadata": {"name": "p", "namespace": "team", "resourceVersion": "7"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    manifest = {"metadata": {"name": "p", "namespace": "team"}, "spec": {}}
    controller.cache.put_pod(watched, "job")
    controller.cache.put_pod(manifest, "job")
    assert controller.cache.pods[("team", "job")]["p"]["status"]["phase"] == "Running"
    newer = {**watched, "metadata": {**watched["metadata"], "resourceVersion": "9"}}
    newer["status"] = {"phase": "Succeeded"}
    controller.cache.put_pod(newer, "job")
    assert controller.cache.pods[("team", "job")]["p"]["status"]["phase"] == "Succeeded"


class RefusingStore(FakeStore):
    """The apiserver refusing every pod with one answer."""

    def __init__(self, code: int, body: dict[str, Any]) -> None:
        super().__init__()
        self.code, self.body = code, body

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        error = ApiException(status=self.code, reason="refused")
        error.body = json.dumps(self.body)
        raise error


def _reconcile_once(store: FakeStore, body: dict[str, Any]) -> tuple[JobController, list[str]]:
    events: list[str] = []

    async def post(job: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        events.append(reason)

    async def scenario() -> JobController:
        controller = _controller(store)
        controller.post_event = post
        await controller.reconcile(controller.cache.put_job(body))
        return controller

    return asyncio.run(scenario()), events


def test_a_pod_the_apiserver_refuses_for_good_fails_the_job_at_once() -> None:
    invalid = {
        "reason": "Invalid",
        "message": 'Pod "x" is invalid: spec.containers[0].image: Required value',
        "details": {"causes": [{"field": "spec.containers[0].image", "message": "Required"}]},
    }
    store = RefusingStore(422, invalid)
    controller, events = _reconcile_once(store, _batch_job("bad", 2))
    status = store.statuses["bad"]
    assert status["phase"] == "Failed"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "PodRejected"
    assert "spec.tasks[0].template.spec.containers[0].image: Required" in failed["message"]
    assert "PodRejected" in events
    # A refused pod is not taken for one that exists: nothing in the cache pretends it does.
    assert controller.cache.pods.get(("team", "bad"), {}) == {}


def test_a_pod_refused_for_now_leaves_the_job_waiting_with_the_reason_and_a_retry() -> None:
    quota = {"reason": "Forbidden", "message": "exceeded quota: q, requested: pods=1"}
    store = RefusingStore(403, quota)
    controller, events = _reconcile_once(store, _batch_job("waits", 2))
    status = store.statuses["waits"]
    assert status["phase"] != "Failed"
    waiting = next(c for c in status["conditions"] if c["type"] == "PodsCreated")
    assert waiting["status"] == "False"
    assert "exceeded quota" in waiting["message"]
    assert events.count("PodCreateRefused") == 1
    assert ("team", "waits") in controller._timers  # tried again in a few seconds


def test_a_job_the_operator_cannot_read_says_so_once_and_is_left_alone() -> None:
    # Stored before the CRD refused containers without an image.
    body = _batch_job("old", 1)
    del body["spec"]["tasks"][0]["template"]["spec"]["containers"][0]["image"]
    store = FakeStore()
    events: list[str] = []

    async def post(job: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        events.append(reason)

    async def scenario() -> None:
        controller = _controller(store)
        controller.post_event = post
        key = controller.cache.put_job(body)
        await controller.reconcile(key)
        await controller.reconcile(key)  # the same reason again: no second event

    asyncio.run(scenario())
    (valid,) = store.statuses["old"]["conditions"]
    assert (valid["type"], valid["status"], valid["reason"]) == ("Valid", "False", "InvalidSpec")
    assert "spec.tasks[0].template.spec.containers[0].image" in valid["message"]
    assert events == ["InvalidSpec"]
    assert store.created == []


def _mpi_job() -> dict[str, Any]:
    # No deadline: the controller's clock is the real one, the example's creation time is not.
    job, meta = example("mpi-hpc.yaml", gang=None, runPolicy={"backoffLimit": 0})
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["metadata"] = copy.deepcopy(meta)
    return body


def test_an_mpi_job_gets_its_service_hostfile_and_key_pair_before_its_pods() -> None:
    store = FakeStore()
    body = _mpi_job()
    _reconcile_once(store, body)
    assert [name for _, name in store.created] == [
        "Service/cfd-mpi",
        "ConfigMap/cfd-mpi-hostfile",
        "Secret/cfd-mpi-ssh",
        *(f"cfd-mpi-worker-{i}" for i in range(4)),
    ]
    key = store.objects["Secret/cfd-mpi-ssh"]["data"]["ssh-privatekey"]
    # A restart finds them (409): nothing is doubled, the key pair is not replaced.
    del store.pods["cfd-mpi-worker-3"]
    _reconcile_once(store, body)
    assert store.created[-1] == ("cfd-mpi", "cfd-mpi-worker-3")
    assert len(store.objects) == 3
    assert store.objects["Secret/cfd-mpi-ssh"]["data"]["ssh-privatekey"] == key


def test_a_service_of_that_name_that_is_not_the_jobs_holds_the_pods_back() -> None:
    store = FakeStore()
    store.objects["Service/cfd-mpi"] = {
        "kind": "Service",
        "metadata": {"name": "cfd-mpi", "ownerReferences": []},
    }
    body = _mpi_job()
    controller, _ = _reconcile_once(store, body)
    assert store.pods == {}
    # The held-back pods promise no node to anyone: other gangs may plan on the rack.
    assert controller.cache.pods.get(("team", "cfd-mpi"), {}) == {}
    assert controller.facts.reserved(("team", "other")) == []
    conditions = {c["type"]: c for c in store.statuses["cfd-mpi"]["conditions"]}
    refused = conditions["PodsCreated"]
    assert (refused["status"], refused["reason"]) == ("False", "CreateRefused")
    assert "Service cfd-mpi" in refused["message"]
    assert "is not this job's" in refused["message"]


class SilentStore(FakeStore):
    """The apiserver never answering a pod create (the call times out)."""

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        raise TimeoutError("no answer")


def test_a_pod_create_without_an_answer_is_tried_again_and_not_taken_for_made() -> None:
    async def scenario() -> tuple[dict[str, Any], list[tuple[str, str]]]:
        controller = _controller(SilentStore())
        key = controller.cache.put_job(_batch_job("unanswered", 2))
        with pytest.raises(TimeoutError):
            await controller.reconcile(key)
        forgotten = dict(controller.cache.pods.get(key, {}))
        answering = FakeStore()
        controller.store = answering  # type: ignore[assignment]
        await controller.reconcile(key)
        return forgotten, answering.created

    forgotten, created = asyncio.run(scenario())
    assert forgotten == {}
    assert sorted(created) == [
        ("unanswered", "unanswered-shard-0"),
        ("unanswered", "unanswered-shard-1"),
    ]


def _planned_pod(job: str, name: str) -> dict[str, Any]:
    """A pod of `job` the operator planned on cpu-use1-0, asking for 4 cores."""
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "labels": {"suanli.dev/job": job},
            "annotations": {"suanli.dev/planned-node": "cpu-use1-0"},
        },
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "4"}}}]},
    }


def test_a_deleted_job_leaves_no_capacity_promised_by_pods_never_created() -> None:
    controller = _controller(FakeStore())
    body = _batch_job("gone", 1)
    key = controller.cache.put_job(body)
    never_created = _planned_pod("gone", "gone-shard-1")
    watched = copy.deepcopy(never_created)
    watched["metadata"] |= {"name": "gone-shard-0", "resourceVersion": "7"}
    controller.cache.put_pod(never_created, "gone")
    controller.cache.put_pod(watched, "gone")
    assert len(controller.facts.reserved(("team", "other"))) == 2
    controller.cache.put_job(body, deleted=True)
    # The manifest is dropped; the pod the watch showed stays until its DELETED event.
    assert set(controller.cache.pods[key]) == {"gone-shard-0"}
    assert controller.facts.reserved(("team", "other")) == []


def test_a_bound_pod_the_cluster_watch_has_not_shown_yet_still_holds_its_room() -> None:
    # The jobs' pods and the cluster's bound pods come by two watches: a pod the first shows
    # bound while the second has not yet must not leave its room free to the next plan.
    controller = _controller(FakeStore())
    controller.cache.put_job(_batch_job("fast", 1))
    bound = _planned_pod("fast", "fast-shard-0")
    bound["metadata"]["resourceVersion"] = "9"
    bound["spec"]["nodeName"] = "cpu-use1-1"
    bound["status"] = {"phase": "Running"}
    controller.cache.put_pod(bound, "fast")
    assert [p.node for p in controller.facts.reserved(("team", "other"))] == ["cpu-use1-1"]
    controller.cluster.apply_pod("ADDED", bound)  # the cluster's watch catches up
    assert controller.facts.reserved(("team", "other")) == []


def test_a_promised_pod_is_read_once_until_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every admission asks for the promised pods: a pod still waiting for its binding is read
    # again only once the watch has brought a new version of it.
    reads: list[str] = []
    original = facts_module._holding

    def counting(pod: dict[str, Any]) -> Any:
        reads.append(str(pod["metadata"]["name"]))
        return original(pod)

    monkeypatch.setattr(facts_module, "_holding", counting)
    controller = _controller(FakeStore())
    controller.cache.put_job(_batch_job("waits", 1))
    pending = _planned_pod("waits", "waits-shard-0")
    pending["metadata"]["resourceVersion"] = "3"
    controller.cache.put_pod(pending, "waits")
    for _ in range(3):
        assert [p.node for p in controller.facts.reserved(("team", "other"))] == ["cpu-use1-0"]
    assert reads == ["waits-shard-0"]
    moved = copy.deepcopy(pending)
    moved["metadata"] |= {"resourceVersion": "4"}
    moved["metadata"]["annotations"]["suanli.dev/planned-node"] = "cpu-use1-1"
    controller.cache.put_pod(moved, "waits")
    assert [p.node for p in controller.facts.reserved(("team", "other"))] == ["cpu-use1-1"]
    assert reads == ["waits-shard-0", "waits-shard-0"]


class CountingStore(FakeStore):
    """Counts the reads of a job's pod names from the apiserver."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[str] = []

    async def list_pod_names(self, namespace: str, job: str) -> set[str]:
        self.listed.append(job)
        return await super().list_pod_names(namespace, job)


@pytest.mark.parametrize(
    ("seen_created", "reads_expected"),
    [
        pytest.param(False, ["job"], id="listed at start: its pods are checked once"),
        pytest.param(True, [], id="seen created while leading: the cache is complete"),
    ],
)
def test_a_jobs_pods_are_read_from_the_apiserver_only_when_another_process_may_have_made_some(
    seen_created: bool, reads_expected: list[str]
) -> None:
    async def scenario() -> CountingStore:
        store = CountingStore()
        controller = _controller(store)
        key = controller.cache.put_job(_batch_job("job", 2))
        if seen_created:
            controller.watched_creation(key)
        await controller.reconcile(key)
        await controller.reconcile(key)
        return store

    store = asyncio.run(scenario())
    assert store.listed == reads_expected
    assert len(store.created) == 2  # both ways, each pod made once


class SlowStore(FakeStore):
    """Creates that take a while, counting how many are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.001)
        try:
            return await super().create_pod(namespace, manifest)
        finally:
            self.in_flight -= 1


def test_pods_are_created_a_bounded_number_at_once_over_every_job() -> None:
    async def scenario() -> SlowStore:
        store = SlowStore()
        controller = _controller(store)
        keys = [controller.cache.put_job(_batch_job(f"job-{i}", 30)) for i in range(3)]
        await asyncio.gather(*(controller.reconcile(key) for key in keys))
        return store

    store = asyncio.run(scenario())
    assert len(store.created) == 90
    assert store.most == POD_CREATES_AT_ONCE


def test_a_job_that_ends_re_plans_the_jobs_waiting_for_quota_at_once() -> None:
    async def scenario() -> frozenset[tuple[str, str]]:
        store = FakeStore()
        controller = _controller(store)
        controller.queues.put_queue(
            {"metadata": {"name": "q"}, "spec": {"quotas": [{"resource": "cpu", "nominal": 4}]}}
        )
        waiting = _batch_job("waiting", 1)
        waiting["status"] = {"phase": "Queued"}
        controller.cache.put_job(waiting)
        done = _batch_job("done", 1)
        done["status"] = {"phase": "Running", "startTime": "2026-12-01T12:00:00Z"}
        key = controller.cache.put_job(done)
        pod = {
            "metadata": {
                "name": "done-shard-0",
                "namespace": "team",
                "resourceVersion": "5",
                "labels": {"suanli.dev/job": "done", "suanli.dev/task": "shard"},
            },
            "spec": {"nodeName": "cpu-use1-0", "containers": [{"name": "main"}]},
            "status": {"phase": "Succeeded"},
        }
        controller.cache.put_pod(pod, "done")
        store.pods[pod["metadata"]["name"]] = pod  # as the apiserver lists it
        await controller.reconcile(key)
        return controller.waiting()

    assert ("team", "waiting") in asyncio.run(scenario())


def test_the_jobs_are_loaded_before_the_first_reconcile_and_left_to_their_events() -> None:
    """After a restart the quota gate's book must count every admitted job, not only those
    kopf has listed so far: the jobs are in the cache before any reconcile, none enqueued."""

    async def scenario() -> tuple[set[tuple[str, str]], set[tuple[str, str]], bool]:
        store = FakeStore()
        admitted = _batch_job("admitted", 1)
        admitted["status"] = {"phase": "Running", "admission": {"queue": "q", "charged": []}}
        store.jobs = [admitted, _batch_job("waiting", 1)]
        controller = _controller(store)
        await controller.load_jobs()
        return set(controller.cache.jobs), set(controller.waiting()), controller.idle()

    cached, waiting, idle = asyncio.run(scenario())
    assert cached == {("team", "admitted"), ("team", "waiting")}
    assert waiting == set()
    assert idle
