"""Bad ComputeJobs and the field each must be refused for, shared by the unit tests (pydantic)
and the integration tests (the apiserver with the generated CRD).

Paths use the apiserver's notation, `spec.tasks[0].replicas`; both sides must name the field.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

DELETE = object()


def full_job(name: str = "full") -> dict[str, Any]:
    """A valid job that sets every section, so each field can be broken in place."""
    return {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "ComputeJob",
        "metadata": {"name": name},
        "spec": {
            "workload": "training",
            "priority": 10,
            "gang": {"minMember": 4, "timeoutSeconds": 120},
            "tasks": [
                {
                    "name": "launcher",
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}},
                },
                {
                    "name": "worker",
                    "replicas": 3,
                    "accelerators": {"count": 2, "types": ["H100", "A100"], "minMemoryGiB": 40},
                    "template": {
                        "metadata": {"annotations": {"suanli.dev/run-duration": "20s"}},
                        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
                    },
                },
            ],
            "hpc": {
                "interconnect": "infiniband",
                "rdma": True,
                "cpuFeatures": ["AVX512F"],
                "sameDomain": "rack",
            },
            "locality": {
                "tiers": ["cloud", "edge"],
                "zones": ["us-east-1a"],
                "sites": ["sh-edge-1"],
                "maxLatencyMs": 20,
            },
            "cost": {"maxPricePerHour": 40, "billing": "on-demand"},
            "policy": {"weights": {"accelerator": 4, "hpc": 2, "locality": 3, "cost": 1}},
            "runPolicy": {
                "backoffLimit": 3,
                "activeDeadlineSeconds": 3600,
                "timeLimit": "2h",
                "expectedRuntime": "1h30m",
                "ttlSecondsAfterFinished": 60,
                "suspend": False,
            },
        },
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """`spec.tasks[0].replicas` -> ["spec", "tasks", 0, "replicas"]."""
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def edit(job: dict[str, Any], path: str, value: object) -> None:
    """Set (or, with DELETE, remove) the value at `path`."""
    *parents, last = steps(path)
    node: Any = job
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[tuple[str, object], ...]
    field: str  # the path the refusal must name

    def job(self, name: str = "bad") -> dict[str, Any]:
        job = copy.deepcopy(full_job(name))
        for path, value in self.edits:
            edit(job, path, value)
        return job


def _case(id: str, path: str, value: object, field: str | None = None) -> Case:
    return Case(id, ((path, value),), field or path)


CONTAINER = {"name": "main", "image": "busybox"}
TEMPLATE = {"spec": {"containers": [CONTAINER]}}

CASES: tuple[Case, ...] = (
    _case("zero-replicas", "spec.tasks[0].replicas", 0),
    _case("negative-replicas", "spec.tasks[1].replicas", -2),
    _case("negative-device-count", "spec.tasks[1].accelerators.count", -1),
    _case("unknown-workload", "spec.workload", "quantum"),
    _case("unknown-tier", "spec.locality.tiers", ["cloud", "orbit"], "spec.locality.tiers[1]"),
    _case("repeated-tier", "spec.locality.tiers", ["edge", "edge"]),
    _case("gang-above-replicas", "spec.gang.minMember", 5),
    _case("gang-zero", "spec.gang.minMember", 0),
    _case("gang-without-min-member", "spec.gang", {"timeoutSeconds": 10}, "spec.gang.minMember"),
    _case("no-tasks", "spec.tasks", []),
    _case(
        "too-many-tasks",
        "spec.tasks",
        [{"name": f"t{i}", "replicas": 1, "template": TEMPLATE} for i in range(17)],
    ),
    _case("duplicate-task-names", "spec.tasks[1].name", "launcher", "spec.tasks[1]"),
    _case("repeated-zone", "spec.locality.zones", ["a", "b", "a"], "spec.locality.zones[2]"),
    _case(
        "repeated-cpu-feature", "spec.hpc.cpuFeatures", ["FMA3", "FMA3"], "spec.hpc.cpuFeatures[1]"
    ),
    _case("task-name-not-dns", "spec.tasks[0].name", "Launcher_1"),
    _case(
        "missing-containers",
        "spec.tasks[0].template",
        {"spec": {}},
        "spec.tasks[0].template.spec.containers",
    ),
    _case("empty-containers", "spec.tasks[0].template.spec.containers", []),
    _case(
        "missing-template-spec",
        "spec.tasks[0].template",
        {"metadata": {}},
        "spec.tasks[0].template.spec.containers",
    ),
    _case("missing-template", "spec.tasks[0].template", DELETE),
    _case(
        "memory-without-devices",
        "spec.tasks[1].accelerators.count",
        0,
        "spec.tasks[1].accelerators.minMemoryGiB",
    ),
    _case("repeated-type", "spec.tasks[1].accelerators.types", ["H100", "H100"]),
    _case(
        "bad-type-name",
        "spec.tasks[1].accelerators.types",
        ["H100 SXM"],
        "spec.tasks[1].accelerators.types[0]",
    ),
    _case("negative-device-memory", "spec.tasks[1].accelerators.minMemoryGiB", -1),
    # The worker task asks for 2 devices: a share is part of one.
    _case(
        "share-of-two-devices",
        "spec.tasks[1].accelerators.share",
        0.25,
        "spec.tasks[1].accelerators.count",
    ),
    _case(
        "memory-share-of-two-devices",
        "spec.tasks[1].accelerators.memoryGiB",
        10,
        "spec.tasks[1].accelerators.count",
    ),
    Case(
        "share-and-memory",
        (
            ("spec.tasks[1].accelerators.count", 1),
            ("spec.tasks[1].accelerators.share", 0.5),
            ("spec.tasks[1].accelerators.memoryGiB", 10),
        ),
        "spec.tasks[1].accelerators.memoryGiB",
    ),
    Case(
        "whole-share",
        (("spec.tasks[1].accelerators.count", 1), ("spec.tasks[1].accelerators.share", 1.0)),
        "spec.tasks[1].accelerators.share",
    ),
    Case(
        "zero-share",
        (("spec.tasks[1].accelerators.count", 1), ("spec.tasks[1].accelerators.share", 0.0)),
        "spec.tasks[1].accelerators.share",
    ),
    Case(
        "negative-share",
        (("spec.tasks[1].accelerators.count", 1), ("spec.tasks[1].accelerators.share", -0.25)),
        "spec.tasks[1].accelerators.share",
    ),
    _case("unknown-interconnect", "spec.hpc.interconnect", "myrinet"),
    _case("lower-case-cpu-feature", "spec.hpc.cpuFeatures", ["avx512f"], "spec.hpc.cpuFeatures[0]"),
    _case("unknown-domain", "spec.hpc.sameDomain", "planet"),
    _case("latency-without-sites", "spec.locality.sites", [], "spec.locality.maxLatencyMs"),
    _case("negative-latency", "spec.locality.maxLatencyMs", -5),
    _case("bad-billing", "spec.cost.billing", "prepaid"),
    _case("negative-price", "spec.cost.maxPricePerHour", -0.5),
    _case("weight-above-100", "spec.policy.weights.cost", 101),
    _case("negative-weight", "spec.policy.weights.hpc", -1),
    _case(
        "all-weights-zero",
        "spec.policy.weights",
        {"accelerator": 0, "hpc": 0, "locality": 0, "cost": 0, "packing": 0},
    ),
    _case("negative-backoff", "spec.runPolicy.backoffLimit", -1),
    _case("zero-deadline", "spec.runPolicy.activeDeadlineSeconds", 0),
    # Run times (issue 12): whole hours, minutes and seconds, above zero, expected within limit.
    _case("zero-time-limit", "spec.runPolicy.timeLimit", "0m"),
    _case("time-limit-in-days", "spec.runPolicy.timeLimit", "2d"),
    _case("time-limit-a-number", "spec.runPolicy.timeLimit", 3600),
    _case("expected-over-limit", "spec.runPolicy.expectedRuntime", "3h"),
    _case("rdma-not-boolean", "spec.hpc.rdma", "maybe"),
    _case("replicas-not-integer", "spec.tasks[0].replicas", "many"),
    _case("unknown-spec-field", "spec.colour", "red"),
    _case("unknown-task-field", "spec.tasks[0].replica", 2),
    _case("unknown-accelerator-field", "spec.tasks[1].accelerators.vramGiB", 40),
    # What the pods made from the job would be refused for (issue 11).
    _case("job-name-over-63", "metadata.name", "j" * 64),
    _case("container-without-image", "spec.tasks[0].template.spec.containers[0].image", DELETE),
    _case("container-empty-image", "spec.tasks[0].template.spec.containers[0].image", ""),
    _case("image-with-blank", "spec.tasks[0].template.spec.containers[0].image", " busybox"),
    _case("container-without-name", "spec.tasks[0].template.spec.containers[0].name", DELETE),
    _case("container-name-not-dns", "spec.tasks[0].template.spec.containers[0].name", "Main_1"),
    _case("container-name-over-63", "spec.tasks[0].template.spec.containers[0].name", "c" * 64),
    _case(
        "repeated-container-name",
        "spec.tasks[0].template.spec.containers",
        [CONTAINER, CONTAINER],
        "spec.tasks[0].template.spec.containers[1]",
    ),
    _case(
        "init-container-without-image",
        "spec.tasks[0].template.spec.initContainers",
        [{"name": "setup"}],
        "spec.tasks[0].template.spec.initContainers[0].image",
    ),
    _case(
        "init-container-reuses-name",
        "spec.tasks[0].template.spec.initContainers",
        [CONTAINER],
        "spec.tasks[0].template.spec.initContainers",
    ),
    _case(
        "label-value-over-63",
        "spec.tasks[0].template.metadata",
        {"labels": {"team": "t" * 64}},
        "spec.tasks[0].template.metadata.labels.team",
    ),
    _case(
        "label-value-not-a-label",
        "spec.tasks[0].template.metadata",
        {"labels": {"team": "-a"}},
        "spec.tasks[0].template.metadata.labels.team",
    ),
    # MPI jobs: one launcher pod beside workers, names that make hostnames (issue 13).
    Case(
        "launcher-with-replicas",
        (("spec.tasks[0].role", "launcher"), ("spec.tasks[0].replicas", 2)),
        "spec.tasks[0].replicas",
    ),
    Case(
        "launcher-without-workers",
        (
            (
                "spec.tasks",
                [{"name": "launcher", "replicas": 1, "role": "launcher", "template": TEMPLATE}],
            ),
            ("spec.gang", DELETE),
        ),
        "spec.tasks",
    ),
    _case("workers-without-launcher", "spec.tasks[1].role", "worker", "spec.tasks"),
    Case(
        "two-launchers",
        (
            ("spec.tasks[0].role", "launcher"),
            ("spec.tasks[1].role", "launcher"),
            ("spec.tasks[1].replicas", 1),
            ("spec.gang", DELETE),
        ),
        "spec.tasks",
    ),
    _case("unknown-role", "spec.tasks[1].role", "server"),
    _case("mpi-without-launcher", "spec.mpi", {}),
    Case(
        "mpi-hostfile-relative",
        (("spec.tasks[0].role", "launcher"), ("spec.mpi", {"hostfile": "etc/mpi/hostfile"})),
        "spec.mpi.hostfile",
    ),
    Case(
        "mpi-job-name-with-dot",
        (("spec.tasks[0].role", "launcher"), ("metadata.name", "cfd.mpi")),
        "metadata.name",
    ),
    Case(
        "mpi-hostname-over-63",
        (
            ("spec.tasks[0].role", "launcher"),
            ("metadata.name", "j" * 50),
            ("spec.tasks[1].name", "w" * 12),
        ),
        "metadata.name",
    ),
)
