"""The ComputeJob state machine, table by table: observed job and pods in, actions out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from suanli.api import MAX_STATUS_PLACEMENTS, ComputeJob, Phase
from suanli.controller.actions import Actions, Observed
from suanli.controller.admission import Admission
from suanli.controller.lifecycle import reconcile
from suanli.controller.slots import PodSlot
from suanli.queueing.runtime import RunLimits
from tests.unit.controller.conftest import T0, example, pod, with_status

BATCH = "batch-cpu.yaml"
GANG = "training-gang.yaml"
WORKERS = [f"llm-finetune-worker-{i}" for i in range(4)]


def _never(_: list[PodSlot]) -> Admission:
    return Admission(
        {},
        False,
        "gang needs 4 pods placed together, only 3 fit now: 46 nodes: accelerator type not in [H100, A100]",
    )


def _always(missing: list[PodSlot]) -> Admission:
    return Admission({s.name: f"h100-use1-{i}" for i, s in enumerate(missing)}, True)


def _run(
    job: ComputeJob,
    meta: dict[str, Any],
    pods: list[dict[str, Any]],
    *,
    at: dt.datetime = T0,
    admit: Any = _always,
) -> Actions:
    return reconcile(
        Observed(
            job=job,
            meta=meta,
            pods=pods,
            now=at,
            admit=admit,
            price_of=lambda _p: 10.0,
            accelerator_of=lambda _n: "H100",
        )
    )


def test_a_new_batch_job_creates_every_pod_with_deterministic_names() -> None:
    job, meta = example(BATCH)
    actions = _run(job, meta, [])
    names = [c.slot.name for c in actions.create]
    assert names == [f"etl-shards-shard-{i}" for i in range(6)]
    assert all(c.planned_node is None for c in actions.create)
    assert actions.status.phase is Phase.SCHEDULING
    assert actions.delete == []


def test_recreating_is_idempotent_only_missing_pods_are_created() -> None:
    job, meta = example(BATCH)
    pods = [pod(f"etl-shards-shard-{i}", "Running", "cpu-use1-0") for i in (0, 1, 2, 4)]
    actions = _run(job, meta, pods)
    assert [c.slot.name for c in actions.create] == ["etl-shards-shard-3", "etl-shards-shard-5"]


def test_a_gang_without_a_full_placement_waits_and_holds_nothing() -> None:
    job, meta = example(GANG)
    actions = _run(job, meta, [], admit=_never)
    assert actions.create == []
    assert actions.status.phase is Phase.QUEUED
    assert "only 3 fit now" in (actions.status.unschedulable or "")
    admitted = next(c for c in actions.status.conditions if c.type == "Admitted")
    assert admitted.status.value == "False"
    assert [e.reason for e in actions.events] == ["Queued"]


def test_an_admitted_gang_is_created_whole_with_its_plan() -> None:
    job, meta = example(GANG)
    actions = _run(job, meta, [])
    assert [c.slot.name for c in actions.create] == WORKERS
    assert [c.planned_node for c in actions.create] == [f"h100-use1-{i}" for i in range(4)]
    assert actions.status.phase is Phase.SCHEDULING
    assert "Admitted" in [e.reason for e in actions.events]


def test_gang_timeout_deletes_the_partial_gang_and_queues_again() -> None:
    job, meta = example(GANG)
    admitted = _run(job, meta, [])
    job = with_status(
        job, **admitted.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    pods = [pod(WORKERS[0], "Running", "h100-use1-0"), *[pod(n) for n in WORKERS[1:]]]
    early = _run(job, meta, pods, at=T0 + dt.timedelta(seconds=100))
    assert early.delete == []
    late = _run(job, meta, pods, at=T0 + dt.timedelta(seconds=301))
    assert sorted(late.delete) == WORKERS
    assert late.status.phase is Phase.QUEUED
    assert "GangTimeout" in [e.reason for e in late.events]
    assert late.create == []


def _refused(name: str) -> dict[str, Any]:
    made = pod(name)
    made["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    ]
    return made


@dataclass(frozen=True)
class EarlyReplan:
    name: str
    pending: tuple[str, ...]  # WORKERS[1:] are pending: which of them kube-scheduler refused
    gone: tuple[str, ...]  # what the operator's state says: no room left on their node
    replanned: bool


EARLY_REPLANS = [
    EarlyReplan("refused, and the room is gone: planned again", (WORKERS[1],), (WORKERS[1],), True),
    EarlyReplan("refused, but the operator still sees room: wait", (WORKERS[1],), (), False),
    EarlyReplan("nobody refused: the room is not even asked about", (), (WORKERS[1],), False),
]


@pytest.mark.parametrize("case", EARLY_REPLANS, ids=[c.name for c in EARLY_REPLANS])
def test_a_gang_whose_planned_room_was_taken_is_planned_again_before_its_timeout(
    case: EarlyReplan,
) -> None:
    job, meta = example(GANG)
    admitted = _run(job, meta, [])
    job = with_status(
        job, **admitted.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    pods = [
        pod(WORKERS[0], "Running", "h100-use1-0"),
        *[_refused(n) if n in case.pending else pod(n) for n in WORKERS[1:]],
    ]
    asked: list[list[str]] = []

    def rooms_gone(refused: list[Any]) -> list[str]:
        asked.append([p["metadata"]["name"] for p in refused])
        return [n for n in case.gone if n in asked[-1]]

    actions = reconcile(
        Observed(
            job=job,
            meta=meta,
            pods=pods,
            now=T0 + dt.timedelta(seconds=10),
            admit=_always,
            rooms_gone=rooms_gone,
        )
    )
    assert asked == ([list(case.pending)] if case.pending else [])
    assert (sorted(actions.delete) == WORKERS) is case.replanned
    assert ("PlannedRoomTaken" in [e.reason for e in actions.events]) is case.replanned
    assert (actions.status.phase is Phase.QUEUED) is case.replanned


def test_running_then_succeeded_with_cost() -> None:
    job, meta = example(GANG)
    running = _run(
        job,
        meta,
        [pod(n, "Running", f"h100-use1-{i}") for i, n in enumerate(WORKERS)],
        at=T0 + dt.timedelta(minutes=30),
    )
    assert running.status.phase is Phase.RUNNING
    assert running.status.start_time == T0 + dt.timedelta(minutes=30)
    assert running.status.ready == "4/4"
    assert running.status.price_per_hour == 40.0
    assert running.status.cost_accrued == 20.0  # 4 pods x 10/h x 0.5 h
    assert [p.node for p in running.status.placements] == [f"h100-use1-{i}" for i in range(4)]
    done = _run(
        job,
        meta,
        [pod(n, "Succeeded", f"h100-use1-{i}") for i, n in enumerate(WORKERS)],
        at=T0 + dt.timedelta(hours=2),
    )
    assert done.status.phase is Phase.SUCCEEDED
    assert done.status.price_per_hour == 0.0
    assert done.status.cost_accrued == 40.0  # each pod ran exactly one hour
    assert "Succeeded" in [e.reason for e in done.events]


def test_failed_pods_restart_until_the_backoff_limit() -> None:
    job, meta = example(BATCH)
    pods = [pod(f"etl-shards-shard-{i}", "Running", "cpu-use1-0") for i in range(6)]
    pods[2] = pod("etl-shards-shard-2", "Failed", "cpu-use1-0")
    first = _run(job, meta, pods)
    assert first.delete == ["etl-shards-shard-2"]
    assert first.status.restarts == 1
    exhausted = _run(with_status(job, restarts=job.spec.run_policy.backoff_limit), meta, pods)
    assert exhausted.status.phase is Phase.FAILED
    assert "BackoffLimitExceeded" in [e.reason for e in exhausted.events]
    assert sorted(exhausted.delete) == sorted(p["metadata"]["name"] for p in pods)


def test_suspend_deletes_pods_and_keeps_the_job() -> None:
    job, meta = example(BATCH)
    job = ComputeJob.model_validate(
        {
            **job.model_dump(mode="json", by_alias=True, exclude_none=True),
            "spec": {
                **job.model_dump(mode="json", by_alias=True, exclude_none=True)["spec"],
                "runPolicy": {"suspend": True},
            },
        }
    )
    pods = [pod(f"etl-shards-shard-{i}", "Running", "cpu-use1-0") for i in range(6)]
    actions = _run(job, meta, pods)
    assert len(actions.delete) == 6
    assert actions.create == []
    assert actions.status.phase is Phase.SUSPENDED
    assert not actions.delete_job


def test_active_deadline_fails_the_job() -> None:
    job, meta = example(GANG)
    pods = [pod(n, "Running", "h100-use1-0") for n in WORKERS]
    actions = _run(job, meta, pods, at=T0 + dt.timedelta(days=2))
    assert actions.status.phase is Phase.FAILED
    assert "DeadlineExceeded" in [e.reason for e in actions.events]
    assert sorted(actions.delete) == WORKERS


def test_ttl_after_finished_deletes_the_job() -> None:
    job, meta = example(GANG)
    done = with_status(job, phase="Succeeded", completionTime=T0.isoformat())
    assert not _run(done, meta, [], at=T0 + dt.timedelta(seconds=3599)).delete_job
    assert _run(done, meta, [], at=T0 + dt.timedelta(seconds=3600)).delete_job


def test_unschedulable_reasons_come_from_the_pods() -> None:
    job, meta = example(BATCH)
    pods = [
        pod(
            f"etl-shards-shard-{i}",
            **{"suanli.dev/unschedulable": "0/50 nodes fit: 50 nodes: insufficient cpu"},
        )
        for i in range(6)
    ]
    actions = _run(job, meta, pods)
    assert actions.status.unschedulable == "0/50 nodes fit: 50 nodes: insufficient cpu"
    assert actions.status.phase is Phase.SCHEDULING


def test_reconcile_is_a_fixed_point() -> None:
    job, meta = example(GANG)
    pods = [pod(n, "Running", f"h100-use1-{i}") for i, n in enumerate(WORKERS)]
    first = _run(job, meta, pods)
    again = _run(
        with_status(job, **first.status.model_dump(mode="json", by_alias=True, exclude_none=True)),
        meta,
        pods,
    )
    assert again.status == first.status
    assert again.events == []
    assert again.create == again.delete == []


def test_time_driven_changes_ask_for_a_timely_second_look() -> None:
    job, meta = example(GANG)
    admitted = _run(job, meta, [])
    # Admitted at T0: the gang timeout (300 s) is the next moment that matters.
    assert admitted.requeue_after == 301
    running = _run(job, meta, [pod(n, "Running", "h100-use1-0") for n in WORKERS])
    assert running.requeue_after == 30  # cost refresh
    done = with_status(job, phase="Succeeded", completionTime=T0.isoformat())
    assert _run(done, meta, [], at=T0 + dt.timedelta(seconds=600)).requeue_after == 3000
    batch, batch_meta = example(BATCH, runPolicy={"backoffLimit": 6})  # no TTL
    finished = with_status(batch, phase="Succeeded", completionTime=T0.isoformat())
    assert _run(finished, batch_meta, []).requeue_after is None


def test_a_large_job_lists_a_bounded_number_of_placements_and_counts_them_all() -> None:
    job, meta = example(BATCH)
    spec = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec["spec"]["tasks"][0]["replicas"] = MAX_STATUS_PLACEMENTS + 50
    job = ComputeJob.model_validate(spec)
    names = [f"etl-shards-shard-{i}" for i in range(MAX_STATUS_PLACEMENTS + 50)]
    bound = [pod(n, "Running", f"cpu-use1-{i % 7}") for i, n in enumerate(names[:-1])]
    actions = _run(job, meta, [*bound, pod(names[-1])])
    assert actions.status.placed == len(bound)
    assert [p.pod for p in actions.status.placements] == sorted(names[:-1])[:MAX_STATUS_PLACEMENTS]
    # The summaries still speak for every bound pod, not only the listed ones.
    assert actions.status.nodes == "cpu-use1-0,cpu-use1-1,cpu-use1-2 (+4)"
    assert actions.status.accelerator_type == "H100"


# --- MPI jobs: the launcher comes after its workers ----------------------------------------------

MPI = "mpi-hpc.yaml"
MPI_WORKERS = [f"cfd-mpi-worker-{i}" for i in range(4)]
MPI_LAUNCHER = "cfd-mpi-launcher-0"


def _ready(name: str, node: str) -> dict[str, Any]:
    running = pod(name, "Running", node)
    running["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return running


def _admitted(job: ComputeJob, meta: dict[str, Any]) -> tuple[ComputeJob, list[list[str]]]:
    asked: list[list[str]] = []

    def admit(missing: list[PodSlot]) -> Admission:
        asked.append([s.name for s in missing])
        return _always(missing)

    actions = _run(job, meta, [], admit=admit)
    assert [c.slot.name for c in actions.create] == MPI_WORKERS
    status = actions.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return with_status(job, **status), asked


def test_an_mpi_gang_is_planned_whole_but_its_launcher_waits_for_ready_workers() -> None:
    job, meta = example(MPI)
    job, asked = _admitted(job, meta)
    # The plan covers the launcher too: the gang is admitted only if all of it fits.
    assert asked == [[MPI_LAUNCHER, *MPI_WORKERS]]
    running = [pod(n, "Running", f"hpc-ib-{i}") for i, n in enumerate(MPI_WORKERS)]
    not_yet = _run(job, meta, running)
    assert not_yet.create == []
    assert not_yet.status.phase is Phase.SCHEDULING
    some = [*(_ready(n, "hpc-ib-0") for n in MPI_WORKERS[:3]), running[3]]
    assert _run(job, meta, some).create == []
    ready = [_ready(n, f"hpc-ib-{i}") for i, n in enumerate(MPI_WORKERS)]
    go = _run(job, meta, ready)
    assert [c.slot.name for c in go.create] == [MPI_LAUNCHER]
    assert go.status.phase is Phase.SCHEDULING
    done = _run(job, meta, [*ready, _ready(MPI_LAUNCHER, "hpc-ib-0")])
    assert done.create == []
    assert done.status.phase is Phase.RUNNING


def test_an_mpi_gang_whose_workers_are_placed_does_not_time_out_for_its_launcher() -> None:
    job, meta = example(MPI)
    job, _ = _admitted(job, meta)
    placed = [pod(n, "Pending", f"hpc-ib-{i}") for i, n in enumerate(MPI_WORKERS)]
    late = _run(job, meta, placed, at=T0 + dt.timedelta(seconds=400))
    assert late.delete == []
    assert late.status.phase is Phase.SCHEDULING
    unplaced = [*placed[:3], pod(MPI_WORKERS[3])]
    timed_out = _run(job, meta, unplaced, at=T0 + dt.timedelta(seconds=400))
    assert sorted(timed_out.delete) == sorted(MPI_WORKERS[:3] + MPI_WORKERS[3:])
    assert timed_out.status.phase is Phase.QUEUED


def test_a_non_gang_mpi_job_creates_its_workers_first() -> None:
    job, meta = example(MPI, gang=None)
    first = _run(job, meta, [])
    assert [c.slot.name for c in first.create] == MPI_WORKERS
    ready = [_ready(n, f"hpc-ib-{i}") for i, n in enumerate(MPI_WORKERS)]
    assert [c.slot.name for c in _run(job, meta, ready).create] == [MPI_LAUNCHER]


def test_a_job_past_its_time_limit_is_stopped_with_the_reason() -> None:
    job, meta = example(GANG)
    started = with_status(job, phase="Running", startTime=T0.isoformat())
    pods = [pod(n, "Running", "h100-use1-0") for n in WORKERS]
    limits = RunLimits(600, 600, "queue research's defaultTimeLimit")

    def at(seconds: float) -> Actions:
        return reconcile(
            Observed(
                job=started,
                meta=meta,
                pods=pods,
                now=T0 + dt.timedelta(seconds=seconds),
                admit=_always,
                limits=limits,
            )
        )

    within = at(600)
    assert within.status.phase is Phase.RUNNING
    assert within.delete == []
    assert within.status.time_limit == "10m"
    # The next look is when the limit passes (1 s on), not at the 30 s cost refresh.
    assert within.requeue_after == 1.0

    over = at(601)
    assert over.status.phase is Phase.FAILED
    assert sorted(over.delete) == WORKERS
    failed = next(c for c in over.status.conditions if c.type == "Failed")
    assert failed.reason == "TimeLimitExceeded"
    assert "time limit 10m (queue research's defaultTimeLimit)" in failed.message
    assert [(e.type, e.reason) for e in over.events] == [("Warning", "TimeLimitExceeded")]


def test_the_time_limit_counts_from_the_start_not_from_the_wait() -> None:
    job, meta = example(GANG)
    # Waited an hour, never started: a 10 minute limit has not begun.
    actions = reconcile(
        Observed(
            job=job,
            meta=meta,
            pods=[],
            now=T0 + dt.timedelta(hours=1),
            admit=_never,
            limits=RunLimits(600),
        )
    )
    assert actions.status.phase is Phase.QUEUED
