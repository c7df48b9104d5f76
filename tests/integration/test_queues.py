"""ComputeQueues against the real control plane: quota admission with fallback to the next
accepted type, waiting with reason and position, release when a job finishes, the default
queue of a namespace, and the apiserver refusing a malformed queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import ControlPlane, Operator
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_labels,
)


@pytest.fixture
def namespace(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = new_namespace(control_plane.core, "queue")
    yield name
    control_plane.kubectl("delete", "computejobs", "--all", "-n", name, "--wait=false")
    control_plane.kubectl("delete", "computequeues", "-l", f"test={name}", "--wait=false")
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


def apply(control_plane: ControlPlane, namespace: str, body: dict[str, Any]) -> None:
    path = Path(control_plane.state.state_dir) / f"{namespace}-{body['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(body))
    control_plane.kubectl("apply", "-n", namespace, "-f", str(path))


def queue(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeQueue",
        "metadata": {"name": name, "labels": {"test": namespace}},
        "spec": spec,
    }


def gpu_job(name: str, queue_name: str | None, run: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "workload": "training",
        "tasks": [
            {
                "name": "work",
                "replicas": 1,
                "accelerators": {"count": 8, "types": ["H100", "A100"]},
                "template": {
                    "metadata": {"annotations": {"suanli.dev/run-duration": run}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "busybox",
                                "resources": {"requests": {"cpu": "8", "memory": "32Gi"}},
                            }
                        ]
                    },
                },
            }
        ],
    }
    if queue_name is not None:
        spec["queue"] = queue_name
    spec.update(extra)
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def status(control_plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    body = json.loads(
        control_plane.kubectl("get", "computejob", name, "-n", namespace, "-o", "json")
    )
    return dict(body.get("status") or {})


def condition(found: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in found.get("conditions") or [] if c["type"] == kind), {})


def start_in_turn(
    control_plane: ControlPlane, namespace: str, queue_name: str, jobs: tuple[str, ...]
) -> None:
    """Submit one-pod 8-GPU jobs to the queue one after another, each Running before the next."""
    for job in jobs:
        apply(control_plane, namespace, gpu_job(job, queue_name, "1h"))
        eventually(
            lambda job=job: status(control_plane, namespace, job).get("phase") == "Running",
            90,
            f"{job} Running",
        )


def held_for(
    control_plane: ControlPlane, namespace: str, job: str, reason: str, what: str
) -> dict[str, Any]:
    """The job's status once its QuotaReserved condition gives `reason` (why it waits)."""
    found: dict[str, Any] = eventually(
        lambda: (
            condition(s := status(control_plane, namespace, job), "QuotaReserved").get("reason")
            == reason
            and s
        ),
        60,
        what,
    )
    return found


def preempted_condition(control_plane: ControlPlane, namespace: str, job: str) -> dict[str, Any]:
    """The job's Preempted condition, once it has one."""
    found = eventually(
        lambda: condition(status(control_plane, namespace, job), "Preempted"),
        60,
        f"{job} preempted",
    )
    return dict(found)


def test_quota_admits_in_type_order_holds_the_rest_and_releases_on_finish(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = f"{namespace}-q"
    apply(
        control_plane,
        namespace,
        queue(
            name,
            namespace,
            quotas=[{"resource": "H100", "nominal": 8}, {"resource": "A100", "nominal": 8}],
        ),
    )
    apply(control_plane, namespace, gpu_job("first", name, "20s"))
    first = eventually(
        lambda: (s := status(control_plane, namespace, "first")).get("admission") and s,
        60,
        "first admitted",
    )
    apply(control_plane, namespace, gpu_job("second", name, "1h"))
    second = eventually(
        lambda: (s := status(control_plane, namespace, "second")).get("admission") and s,
        60,
        "second admitted",
    )
    apply(control_plane, namespace, gpu_job("third", name, "1h"))
    third = held_for(control_plane, namespace, "third", "QuotaExhausted", "third waiting for quota")
    assert first["admission"]["acceleratorTypes"] == ["H100"]
    # The H100 quota is held by the first: the second is admitted under A100 and runs there.
    assert second["admission"]["acceleratorTypes"] == ["A100"]
    running = eventually(
        lambda: (s := status(control_plane, namespace, "second")).get("phase") == "Running" and s,
        90,
        "second Running",
    )
    node = running["placements"][0]["node"]
    assert (
        node_labels(control_plane.core, node)["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    )
    assert third["phase"] == "Queued"
    assert third["queuePosition"] == 1
    assert "needs 8 H100" in condition(third, "QuotaReserved")["message"]
    pods = control_plane.core.list_namespaced_pod(
        namespace, label_selector="suanli.dev/job=third"
    ).items
    assert pods == []  # nothing of a waiting job exists but the job
    listed = control_plane.kubectl("get", "computequeues", name)
    assert "H100 8/8, A100 8/8" in listed, listed
    reasons = control_plane.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=second",
        "-o",
        "json",
    )
    assert "QuotaReserved" in {e["reason"] for e in json.loads(reasons)["items"]}
    # The first finishes: its H100 quota goes to the third.
    released = eventually(
        lambda: (s := status(control_plane, namespace, "third")).get("admission") and s,
        120,
        "third admitted",
    )
    assert released["admission"]["acceleratorTypes"] == ["H100"]
    assert status(control_plane, namespace, "first")["phase"] == "Succeeded"


def test_a_default_queue_takes_the_jobs_of_the_namespaces_it_selects(
    control_plane: ControlPlane, namespace: str
) -> None:
    control_plane.kubectl("label", "namespace", namespace, f"team={namespace}")
    name = f"{namespace}-default"
    apply(
        control_plane,
        namespace,
        queue(
            name,
            namespace,
            default=True,
            namespaceSelector={"matchLabels": {"team": namespace}},
            quotas=[{"resource": "gpu", "nominal": 0}],
        ),
    )
    apply(control_plane, namespace, gpu_job("unnamed", None, "1h"))
    found = eventually(
        lambda: condition(s := status(control_plane, namespace, "unnamed"), "QuotaReserved") and s,
        60,
        "unnamed queued",
    )
    assert found["queue"] == name
    assert condition(found, "QuotaReserved")["reason"] == "QuotaExhausted"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"quotas": [{"resource": "H100", "nominal": 4, "lendingLimit": 8}]},
            "lendingLimit exceeds nominal",
        ),
        (
            {"quotas": [{"resource": "H100", "nominal": 4, "borrowingLimit": 8}]},
            "borrowingLimit needs a cohort",
        ),
    ],
    ids=["lending above nominal", "borrowing without a cohort"],
)
def test_the_apiserver_refuses_a_malformed_queue(
    control_plane: ControlPlane, namespace: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(AssertionError) as refused:  # kubectl's exit code, with its stderr
        apply(control_plane, namespace, queue(f"{namespace}-bad", namespace, **spec))
    assert message in str(refused.value), refused.value


def test_a_higher_priority_job_preempts_a_lower_one_which_waits_again(
    control_plane: ControlPlane, namespace: str
) -> None:
    name = f"{namespace}-prio"
    apply(
        control_plane,
        namespace,
        queue(name, namespace, quotas=[{"resource": "H100", "nominal": 8}]),
    )
    apply(control_plane, namespace, gpu_job("low", name, "1h", priority=1))
    eventually(
        lambda: status(control_plane, namespace, "low").get("phase") == "Running", 90, "low Running"
    )
    apply(control_plane, namespace, gpu_job("high", name, "1h", priority=10))
    low = eventually(
        lambda: condition(s := status(control_plane, namespace, "low"), "Preempted") and s,
        60,
        "low preempted",
    )
    assert "preempted by" in condition(low, "Preempted")["message"]
    assert not low.get("admission")
    high = eventually(
        lambda: (s := status(control_plane, namespace, "high")).get("phase") == "Running" and s,
        90,
        "high Running",
    )
    assert high["admission"]["acceleratorTypes"] == ["H100"]
    # The preempted job holds nothing: no pods, waiting for quota again.
    eventually(
        lambda: (
            not control_plane.core.list_namespaced_pod(
                namespace, label_selector="suanli.dev/job=low"
            ).items
        ),
        60,
        "low's pods gone",
    )
    waiting = status(control_plane, namespace, "low")
    assert waiting["phase"] == "Queued"
    assert condition(waiting, "QuotaReserved")["status"] == "False"
    events = control_plane.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=low",
        "-o",
        "json",
    )
    assert "Preempted" in {e["reason"] for e in json.loads(events)["items"]}


def test_budgets_send_a_job_to_a_cheaper_type_and_hold_what_the_money_cannot_pay(
    control_plane: ControlPlane, namespace: str
) -> None:
    # 8 H100 cost 98.32 USD/h at catalog prices, 8 A100 40.96: a 140 USD/h ceiling takes one
    # H100 job, then sends the next to A100 (98.32 + 40.96 fits, 2 x 98.32 does not).
    ceiling = f"{namespace}-ceiling"
    quotas = [{"resource": "H100", "nominal": 64}, {"resource": "A100", "nominal": 64}]
    apply(
        control_plane,
        namespace,
        queue(ceiling, namespace, budget={"maxPricePerHour": 140}, quotas=quotas),
    )
    apply(control_plane, namespace, gpu_job("dear", ceiling, "1h"))
    dear = eventually(
        lambda: (s := status(control_plane, namespace, "dear")).get("admission") and s,
        60,
        "dear admitted",
    )
    assert dear["admission"]["acceleratorTypes"] == ["H100"]
    apply(control_plane, namespace, gpu_job("cheap", ceiling, "1h"))
    cheap = eventually(
        lambda: condition(s := status(control_plane, namespace, "cheap"), "QuotaReserved") and s,
        60,
        "cheap decided",
    )
    assert (cheap.get("admission") or {}).get("acceleratorTypes") == ["A100"], cheap
    # A spend limit of one cent cannot pay half a minute of either: the job waits and says so.
    broke = f"{namespace}-broke"
    apply(
        control_plane,
        namespace,
        queue(broke, namespace, budget={"spend": {"limit": 0.01, "period": "24h"}}, quotas=quotas),
    )
    apply(control_plane, namespace, gpu_job("unpaid", broke, "1h"))
    unpaid = eventually(
        lambda: condition(s := status(control_plane, namespace, "unpaid"), "QuotaReserved") and s,
        60,
        "unpaid decided",
    )
    assert condition(unpaid, "QuotaReserved")["reason"] == "BudgetExhausted"
    assert "budget for 24h" in condition(unpaid, "QuotaReserved")["message"]


def test_two_gangs_of_two_queues_wanting_the_same_nodes_both_finish(
    control_plane: ControlPlane, namespace: str
) -> None:
    # Each queue admits its gang (quota is not the limit), but the four H100 nodes hold one
    # 4 x 8-GPU gang at a time: the second waits whole, holding nothing, then runs.
    names = []
    for team in ("red", "blue"):
        name = f"{namespace}-{team}"
        apply(
            control_plane,
            namespace,
            queue(name, namespace, quotas=[{"resource": "H100", "nominal": 32}]),
        )
        body = gpu_job(team, name, "15s", gang={"minMember": 4, "timeoutSeconds": 300})
        body["spec"]["tasks"][0]["replicas"] = 4
        body["spec"]["tasks"][0]["accelerators"]["types"] = ["H100"]
        apply(control_plane, namespace, body)
        names.append(team)
    for team in names:
        eventually(
            lambda team=team: status(control_plane, namespace, team).get("phase") == "Succeeded",
            240,
            f"{team} Succeeded",
        )
    starts = sorted(status(control_plane, namespace, team)["startTime"] for team in names)
    assert starts[0] < starts[1]


def test_fair_sharing_takes_a_borrowers_newest_job_for_the_queue_holding_less(
    control_plane: ControlPlane, namespace: str
) -> None:
    # Two queues with no quota of their own borrow the 16 H100 of a pool queue of their cohort.
    cohort = f"{namespace}-cohort"
    pool, first, second = f"{namespace}-pool", f"{namespace}-a", f"{namespace}-b"
    apply(
        control_plane,
        namespace,
        queue(pool, namespace, cohort=cohort, quotas=[{"resource": "H100", "nominal": 16}]),
    )
    for name in (first, second):
        apply(
            control_plane,
            namespace,
            queue(
                name,
                namespace,
                cohort=cohort,
                preemption={"fairSharing": True},
                quotas=[{"resource": "H100", "nominal": 0}],
            ),
        )
    # Queue b takes the whole pool while queue a asks for nothing.
    start_in_turn(control_plane, namespace, second, ("b-old", "b-new"))
    apply(control_plane, namespace, gpu_job("a-one", first, "1h"))
    preempted = preempted_condition(control_plane, namespace, "b-new")
    assert preempted["reason"] == "FairSharing"
    assert "a-one" in preempted["message"]
    assert "smaller weighted share" in preempted["message"]
    eventually(
        lambda: status(control_plane, namespace, "a-one").get("phase") == "Running",
        90,
        "a-one Running",
    )
    # One job each now: neither queue may take from the other, so b-old keeps running and
    # b-new waits for room.
    assert status(control_plane, namespace, "b-old")["phase"] == "Running"
    assert not condition(status(control_plane, namespace, "b-old"), "Preempted")
    assert status(control_plane, namespace, "b-new")["phase"] == "Queued"
