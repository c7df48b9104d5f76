"""The ComputeJob API (suanli.dev/v1alpha1): the single source of the CRD and its reference.

The CRD schema (`suanli.api.crd`) and `docs/api.md` (`suanli.api.reference`) are generated
from these models, field descriptions included. Cross-field rules are declared as CEL rules
(`suanli.api.cel.Rule`) next to the model they guard and also enforced here, so an object the
apiserver admits validates in Python and the two report a mistake with the same message.

Lists carry `maxItems` and strings `maxLength` even where nothing else needs them: the
apiserver estimates the worst-case cost of every CEL rule from those bounds and refuses the CRD
when a rule could run unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from suanli.api.cel import FIELD_PATH, Reason, Rule, validations
from suanli.api.data import Data, DataPlacement
from suanli.api.durations import Duration, seconds
from suanli.api.podtemplate import POD_TEMPLATE_SCHEMA, template_problems

GROUP: Final = "suanli.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = "suanli.dev/v1alpha1"
KIND: Final = "ComputeJob"
PLURAL = "computejobs"
SINGULAR = "computejob"
# `cj` is also the short name of batch/v1 CronJob, which kubectl resolves first; `cjob` always
# reaches ComputeJobs.
SHORT_NAMES = ("cj", "cjob")
CATEGORIES = ("suanli",)

# Patterns as Kubernetes applies them: a DNS-1123 label (object and port names) and a label
# value that is not empty (zones, sites and accelerator types end up in node selectors).
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
CPU_FEATURE = r"^[A-Z0-9_]+$"
# metav1.Condition's own validation, so conditions written by any controller library pass.
CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

MAX_TASKS = 16
MAX_REPLICAS = 4096
MAX_TYPES = 16
MAX_CPU_FEATURES = 32
MAX_ZONES = 32
MAX_SITES = 64

_UNIQUE = "self.all(x, self.exists_one(y, y == x))"

# Numbers and booleans are strict, as the apiserver's schema is: "3" is not an integer and 1 is
# not `true`, so what Python accepts the CRD accepts too.
# status.placements lists at most this many pods (a status must stay far below etcd's 1.5 MB).
MAX_STATUS_PLACEMENTS = 100
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME)]
CpuFeature = Annotated[str, Field(min_length=1, max_length=64, pattern=CPU_FEATURE)]


class _Model(BaseModel):
    # Frozen: a parsed job is a value; the operator builds a new status rather than editing one.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


ApiModel = _Model  # the base of every API model, the ComputeQueue's too


def _refuse(message: str, field_path: str | None = None, **context: Any) -> PydanticCustomError:
    """A validation error that points where the apiserver's would.

    `field_path` is relative to the value being validated, like a CEL rule's fieldPath;
    `suanli.api.errors.field_errors` joins it to pydantic's location. `context` fills the
    `{placeholders}` of the message.
    """
    return PydanticCustomError("suanli", message, {FIELD_PATH: field_path or "", **context})


def _check(rule: Rule, holds: bool) -> None:
    """Raise the rule's own message, at its own field, when its Python twin finds it broken."""
    if not holds:
        raise _refuse(rule.message, rule.field_path)


def _check_unique(values: Sequence[str], message: str) -> None:
    """Refuse the first repeated value, pointing at it as the apiserver does for set lists.

    `message` may name the value as `{value}`.
    """
    for index, value in enumerate(values):
        if value in values[:index]:
            raise _refuse(message, field_path=f"[{index}]", value=value)


# --- enumerations ---------------------------------------------------------------------------


class Workload(StrEnum):
    """What kind of work the job is; it selects the default weights of the score signals."""

    TRAINING = "training"
    INFERENCE = "inference"
    HPC = "hpc"
    BATCH = "batch"
    EDGE = "edge"


class Interconnect(StrEnum):
    """The network fabric between nodes, as nodes carry it in `suanli.dev/interconnect`."""

    INFINIBAND = "infiniband"
    ROCE = "roce"
    ETHERNET = "ethernet"
    NVLINK = "nvlink"


class TopologyDomain(StrEnum):
    """A topology domain all pods of a job can be asked to share, narrowest first."""

    NODE = "node"
    RACK = "rack"
    BLOCK = "block"
    ZONE = "zone"


class Tier(StrEnum):
    """Where a node sits: a cloud region, an edge site or a device (`suanli.dev/tier`)."""

    CLOUD = "cloud"
    EDGE = "edge"
    DEVICE = "device"


class Billing(StrEnum):
    """How the capacity is paid for; spot and reserved prices are multiples of on-demand."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"


class Phase(StrEnum):
    """Where a ComputeJob is in its life."""

    PENDING = "Pending"
    QUEUED = "Queued"
    SCHEDULING = "Scheduling"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


class ConditionStatus(StrEnum):
    """The status of a condition, as in metav1.Condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Role(StrEnum):
    """A task's part in an MPI job: the one pod that runs `mpirun`, or the pods it reaches."""

    LAUNCHER = "launcher"
    WORKER = "worker"


# --- spec -----------------------------------------------------------------------------------


class Gang(_Model):
    """All-or-nothing start: no pod of the job runs until minMember pods can be placed at once."""

    min_member: Int = Field(
        alias="minMember",
        ge=1,
        le=MAX_TASKS * MAX_REPLICAS,
        description=(
            "How many pods, counted over all tasks, must be placeable together before any of "
            "them is bound. At most the sum of the tasks' replicas."
        ),
    )
    timeout_seconds: Int = Field(
        default=300,
        alias="timeoutSeconds",
        ge=1,
        le=7 * 24 * 3600,
        description=(
            "How long the gang's pods may take to be bound once it is admitted: past it, its pods "
            "are deleted and the job is Queued again with reason GangTimeout (sooner, with "
            "reason PlannedRoomTaken, when a member's planned node no longer has room for it)."
        ),
    )


MIN_MEMORY_NEEDS_DEVICES = Rule(
    rule="self.count > 0 || !has(self.minMemoryGiB)",
    message=(
        "accelerators.minMemoryGiB applies to the devices a pod takes; "
        "set accelerators.count above 0 or drop minMemoryGiB"
    ),
    field_path=".minMemoryGiB",
    reason=Reason.FORBIDDEN,
)
TYPES_NEED_DEVICES = Rule(
    rule="self.count > 0 || !has(self.types) || size(self.types) == 0",
    message=(
        "accelerators.types applies to the devices a pod takes; "
        "set accelerators.count above 0 or drop types"
    ),
    field_path=".types",
    reason=Reason.FORBIDDEN,
)
UNIQUE_TYPES = Rule(
    rule=_UNIQUE,
    message="accelerators.types lists a type more than once; keep each type once",
    reason=Reason.DUPLICATE,
)

SHARE_OF_ONE = Rule(
    rule="(!has(self.share) && !has(self.memoryGiB)) || self.count == 1",
    message=(
        "accelerators.share and accelerators.memoryGiB ask for part of one device; "
        "set count to 1 or leave it out (whole devices take count alone)"
    ),
    field_path=".count",
    reason=Reason.INVALID,
)
SHARE_OR_MEMORY = Rule(
    rule="!has(self.share) || !has(self.memoryGiB)",
    message=(
        "accelerators.share and accelerators.memoryGiB both size part of one device; "
        "set one of them"
    ),
    field_path=".memoryGiB",
    reason=Reason.FORBIDDEN,
)
# The schema's minimum too; kept as a rule because the apiserver was seen to admit a share of
# exactly 0 past `minimum` alone.
SHARE_ABOVE_ZERO = Rule(
    rule="!has(self.share) || self.share >= 0.001",
    message="accelerators.share is a part of one device from 0.001 to 0.999; set it in that range",
    field_path=".share",
    reason=Reason.INVALID,
)
MILLI_PER_DEVICE = 1000


class Accelerators(_Model):
    """Accelerator devices (GPU, NPU, MLU, DCU) each pod of the task needs."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            MIN_MEMORY_NEEDS_DEVICES,
            TYPES_NEED_DEVICES,
            SHARE_OF_ONE,
            SHARE_OR_MEMORY,
            SHARE_ABOVE_ZERO,
        )
    )

    count: Int = Field(
        default=1,
        ge=0,
        le=64,
        description=(
            "Whole devices per pod, requested as the extended resource of the accepted types "
            "(each catalog type names its own: nvidia.com/gpu, amd.com/gpu, "
            "huawei.com/Ascend910, huawei.com/Ascend310P, cambricon.com/mlu, hygon.com/dcu, "
            "...; nvidia.com/gpu when types is empty). 0 means the pod takes no device."
        ),
    )
    types: list[Name] = Field(
        default_factory=list,
        max_length=MAX_TYPES,
        description=(
            "Acceptable canonical accelerator types from the catalog (H100, A100, L4, "
            "Ascend910B, ...), most preferred first. A node of another type is never used; "
            "earlier types score higher. Empty: any type. All must use one device resource "
            "(a pod requests one): H100 with A100, or Ascend910B with Ascend910, not H100 with "
            "Ascend910B."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "atomic",
            **validations(UNIQUE_TYPES),
        },
    )
    min_memory_gib: Int | None = Field(
        default=None,
        alias="minMemoryGiB",
        ge=0,
        le=4096,
        description="Memory each device must have at least, in GiB (a hard requirement).",
    )
    share: Number | None = Field(
        default=None,
        ge=0.001,
        le=0.999,
        description=(
            "A share of one device instead of whole ones, e.g. 0.25 (rounded to thousandths). "
            "The extender picks the device; the pod asks for it in the resources of the "
            "sharing stack its nodes run (HAMi, NVIDIA time-slicing, or Suanli's own "
            "annotation; docs/shares.md). count must be 1."
        ),
    )
    memory_gib: Number | None = Field(
        default=None,
        alias="memoryGiB",
        ge=0.001,
        le=4096,
        description=(
            "A share of one device sized by its memory, in GiB: only devices with that much "
            "memory are used, and the share is that memory over the device's (docs/shares.md). "
            "Exclusive with share; count must be 1."
        ),
    )

    @field_validator("types")
    @classmethod
    def _types_once(cls, value: list[str]) -> list[str]:
        _check(UNIQUE_TYPES, len(set(value)) == len(value))
        return value

    @model_validator(mode="after")
    def _devices_for_constraints(self) -> Self:
        _check(MIN_MEMORY_NEEDS_DEVICES, self.count > 0 or self.min_memory_gib is None)
        _check(TYPES_NEED_DEVICES, self.count > 0 or not self.types)
        _check(SHARE_OF_ONE, self.shared is False or self.count == 1)
        _check(SHARE_OR_MEMORY, self.share is None or self.memory_gib is None)
        return self

    @property
    def shared(self) -> bool:
        """Part of one device (share or memoryGiB) rather than whole devices."""
        return self.share is not None or self.memory_gib is not None

    @property
    def share_milli(self) -> int | None:
        """`share` in milli-devices, rounded half up (at least 1); None without one."""
        if self.share is None:
            return None
        return max(1, min(MILLI_PER_DEVICE - 1, int(self.share * MILLI_PER_DEVICE + 0.5)))


LAUNCHER_ALONE = Rule(
    rule="!has(self.role) || self.role != 'launcher' || self.replicas == 1",
    message="a task with role launcher runs one pod (mpirun); set its replicas to 1",
    field_path=".replicas",
)


class Task(_Model):
    """A role in the job (e.g. launcher or worker): identical pods made from one template."""

    model_config = ConfigDict(json_schema_extra=validations(LAUNCHER_ALONE))

    name: str = Field(
        max_length=63,
        pattern=DNS_LABEL,
        description=(
            "The role's name, unique in the job (a DNS-1123 label); the names of its pods "
            "are made from it."
        ),
    )
    replicas: Int = Field(
        ge=1, le=MAX_REPLICAS, description="How many pods of this role the job runs."
    )
    accelerators: Accelerators | None = Field(
        default=None,
        description="Accelerators each pod needs; absent: the pods need none.",
    )
    role: Role | None = Field(
        default=None,
        description=(
            "The task's part in an MPI job: `launcher` (one pod, created once every worker pod "
            "is Ready) or `worker` (listed in the hostfile). Tasks without a role in a job with "
            "a launcher are workers. Absent on every task: a job of workload hpc with a task "
            "named launcher is an MPI job all the same (see spec.mpi)."
        ),
    )
    template: dict[str, Any] = Field(
        description=(
            "A core/v1 PodTemplateSpec (metadata and spec) for the pods of this task. Stored "
            "as given; spec.containers must not be empty, every container and init container "
            "needs a DNS-1123 name of its own and an image, and label values must be valid. "
            "The operator's webhook also has the apiserver dry-run the pods, so anything else a "
            "Pod would be refused for is refused here. The operator sets the scheduler name "
            "and the accelerator requests."
        ),
        json_schema_extra=POD_TEMPLATE_SCHEMA,
    )

    @field_validator("template")
    @classmethod
    def _template_makes_pods(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, message in template_problems(value):
            raise _refuse(message, path)
        return value

    @model_validator(mode="after")
    def _one_launcher_pod(self) -> Self:
        _check(LAUNCHER_ALONE, self.role is not Role.LAUNCHER or self.replicas == 1)
        return self

    @property
    def devices_per_pod(self) -> int:
        return self.accelerators.count if self.accelerators else 0


class Hpc(_Model):
    """High-performance computing requirements: fabric, RDMA, CPU features and packing."""

    interconnect: Interconnect | None = Field(
        default=None,
        description="The fabric every node must be on (suanli.dev/interconnect); absent: any.",
    )
    rdma: Bool = Field(
        default=False,
        description=(
            "Nodes must be RDMA-capable (Node Feature Discovery rdma.capable or an RDMA device "
            "resource)."
        ),
    )
    cpu_features: list[CpuFeature] = Field(
        default_factory=list,
        alias="cpuFeatures",
        max_length=MAX_CPU_FEATURES,
        description=(
            "CPUID flags every node must have, upper case as Node Feature Discovery writes them "
            "(feature.node.kubernetes.io/cpu-cpuid.<FLAG>), e.g. AVX512F, AMXBF16."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "set",
        },
    )
    same_domain: TopologyDomain | None = Field(
        default=None,
        alias="sameDomain",
        description=(
            "All pods of the job must land in one topology domain of this kind (the same node, "
            "rack, block or zone); absent: pods may spread."
        ),
    )

    @field_validator("cpu_features")
    @classmethod
    def _features_once(cls, value: list[str]) -> list[str]:
        _check_unique(value, "hpc.cpuFeatures lists {value} twice; keep each feature once")
        return value


# An absolute path without ':' (a volume mount's path), and for a file not ending in '/'.
_MOUNT_PATH = r"^/[^:]*$"
_FILE_PATH = r"^/[^:]*[^/:]$"


class Mpi(_Model):
    """How the pods of an MPI job (a launcher and workers) find and reach each other."""

    hostfile: str = Field(
        default="/etc/mpi/hostfile",
        max_length=1024,
        pattern=_FILE_PATH,
        description=(
            "Where the launcher finds the hostfile: one line per worker pod, "
            "`<pod>.<job>.<namespace>.svc slots=<n>`, from a ConfigMap `<job>-hostfile`."
        ),
    )
    slots_per_worker: Int | None = Field(
        default=None,
        alias="slotsPerWorker",
        ge=1,
        le=4096,
        description=(
            "Slots of each worker in the hostfile; absent: its accelerators, or, without any, "
            "the whole CPUs its containers request (at least 1)."
        ),
    )
    ssh_auth_mount_path: str = Field(
        default="/root/.ssh",
        alias="sshAuthMountPath",
        max_length=1024,
        pattern=_MOUNT_PATH,
        description=(
            "Where every pod's first container finds the job's SSH key pair (Secret "
            "`<job>-ssh`): id_ed25519, id_ed25519.pub, authorized_keys and a config that skips "
            "host key checks. The home .ssh folder of the user the containers run as."
        ),
    )


LATENCY_NEEDS_SITES = Rule(
    rule="!has(self.maxLatencyMs) || (has(self.sites) && size(self.sites) > 0)",
    message=(
        "locality.maxLatencyMs is measured to locality.sites; "
        "list at least one site or drop maxLatencyMs"
    ),
    field_path=".maxLatencyMs",
    reason=Reason.REQUIRED,
)
UNIQUE_TIERS = Rule(
    rule=_UNIQUE,
    message="locality.tiers lists a tier more than once; keep each tier once",
    reason=Reason.DUPLICATE,
)


class Locality(_Model):
    """Where the pods may run: tiers, zones, sites, and how far from the data."""

    model_config = ConfigDict(json_schema_extra=validations(LATENCY_NEEDS_SITES))

    tiers: list[Tier] = Field(
        default_factory=list,
        max_length=3,
        description=(
            "Acceptable tiers, most preferred first; nodes of other tiers are not used. "
            "Empty: any tier, cloud preferred. Naming edge or device gives the pods the "
            "operator's edge tolerations (KubeEdge's node-role.kubernetes.io/edge:NoSchedule "
            "by default), so tainted edge nodes can take them."
        ),
        json_schema_extra={"x-kubernetes-list-type": "atomic", **validations(UNIQUE_TIERS)},
    )
    zones: list[Name] = Field(
        default_factory=list,
        max_length=MAX_ZONES,
        description="Acceptable topology.kubernetes.io/zone values; empty: any zone.",
        json_schema_extra={
            "x-kubernetes-list-type": "set",
        },
    )
    sites: list[Name] = Field(
        default_factory=list,
        max_length=MAX_SITES,
        description=(
            "Where the data or the users are: site, zone or region names. Nodes at or near "
            "these places score higher; with maxLatencyMs, nodes farther away are not used."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "set",
        },
    )
    max_latency_ms: Int | None = Field(
        default=None,
        alias="maxLatencyMs",
        ge=0,
        le=60_000,
        description=(
            "Round-trip latency in milliseconds a node may be from the nearest of sites, from "
            "the configured site latency map. A node whose latency is unknown is not used."
        ),
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_once(cls, value: list[Tier]) -> list[Tier]:
        _check(UNIQUE_TIERS, len(set(value)) == len(value))
        return value

    @field_validator("zones", "sites")
    @classmethod
    def _names_once(cls, value: list[str], info: ValidationInfo) -> list[str]:
        _check_unique(value, f"locality.{info.field_name} lists {{value}} twice; keep each once")
        return value

    @model_validator(mode="after")
    def _latency_to_sites(self) -> Self:
        _check(LATENCY_NEEDS_SITES, self.max_latency_ms is None or bool(self.sites))
        return self


class Cost(_Model):
    """A price ceiling and the billing model used to price nodes."""

    max_price_per_hour: Number | None = Field(
        default=None,
        alias="maxPricePerHour",
        ge=0,
        description=(
            "Most a single pod may cost, in USD per hour: its share of the node's price (the "
            "devices it takes, or its dominant share of CPU and memory) under the billing "
            "model. Nodes that would cost more are not used."
        ),
    )
    billing: Billing = Field(
        default=Billing.ON_DEMAND,
        description="The billing model whose prices apply (spot and reserved are discounted).",
    )


SOME_WEIGHT = Rule(
    rule=(
        "!(has(self.accelerator) && has(self.hpc) && has(self.locality) && has(self.cost) "
        "&& has(self.packing)) "
        "|| self.accelerator + self.hpc + self.locality + self.cost + self.packing > 0.0"
    ),
    message="policy.weights are all 0; give at least one signal a positive weight",
)


class Weights(_Model):
    """Relative weight of each signal in a node's score; an unset weight keeps its default."""

    model_config = ConfigDict(json_schema_extra=validations(SOME_WEIGHT))

    accelerator: Number | None = Field(
        default=None, ge=0, le=100, description="Accelerator type preference and fit."
    )
    hpc: Number | None = Field(
        default=None, ge=0, le=100, description="Interconnect, RDMA and topology packing."
    )
    locality: Number | None = Field(
        default=None, ge=0, le=100, description="Tier preference and latency to the sites."
    )
    cost: Number | None = Field(default=None, ge=0, le=100, description="Cheaper nodes first.")
    packing: Number | None = Field(
        default=None, ge=0, le=100, description="Fill busy nodes first to keep whole nodes free."
    )

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        given = (self.accelerator, self.hpc, self.locality, self.cost, self.packing)
        _check(SOME_WEIGHT, None in given or sum(w or 0.0 for w in given) > 0)
        return self


class Policy(_Model):
    """How the scheduler ranks acceptable nodes for this job."""

    weights: Weights | None = Field(
        default=None,
        description="Weights of the score signals (0..100 each); absent: the configured ones.",
    )


TIME_LIMIT_ABOVE_ZERO = Rule(
    rule="!has(self.timeLimit) || duration(self.timeLimit) > duration('0s')",
    message="runPolicy.timeLimit is zero; give a run time above 0 such as 90m or 2h",
    field_path=".timeLimit",
)
EXPECTED_ABOVE_ZERO = Rule(
    rule="!has(self.expectedRuntime) || duration(self.expectedRuntime) > duration('0s')",
    message="runPolicy.expectedRuntime is zero; give a run time above 0 such as 90m or 2h",
    field_path=".expectedRuntime",
)
EXPECTED_WITHIN_LIMIT = Rule(
    rule=(
        "!has(self.timeLimit) || !has(self.expectedRuntime) || "
        "duration(self.expectedRuntime) <= duration(self.timeLimit)"
    ),
    message=(
        "runPolicy.expectedRuntime is longer than runPolicy.timeLimit, which stops the job; "
        "shorten expectedRuntime or raise timeLimit"
    ),
    field_path=".expectedRuntime",
)


class RunPolicy(_Model):
    """Restarts, deadlines, run time, clean-up and suspension, as in batch/v1 Job."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            TIME_LIMIT_ABOVE_ZERO, EXPECTED_ABOVE_ZERO, EXPECTED_WITHIN_LIMIT
        )
    )

    backoff_limit: Int = Field(
        default=3,
        alias="backoffLimit",
        ge=0,
        le=1000,
        description="How many times failed pods are recreated before the job is Failed.",
    )
    active_deadline_seconds: Int | None = Field(
        default=None,
        alias="activeDeadlineSeconds",
        ge=1,
        description=(
            "Seconds the job may run, counted from its start, before its pods are stopped and "
            "it is Failed with reason DeadlineExceeded; absent: no limit."
        ),
    )
    ttl_seconds_after_finished: Int | None = Field(
        default=None,
        alias="ttlSecondsAfterFinished",
        ge=0,
        description=(
            "Seconds after the job finished (Succeeded or Failed) when it is deleted with its "
            "pods; absent: kept."
        ),
    )
    suspend: Bool = Field(
        default=False,
        description=(
            "true stops the job's pods and keeps the job (phase Suspended); false resumes it."
        ),
    )
    time_limit: Duration | None = Field(
        default=None,
        alias="timeLimit",
        description=(
            "How long the job may run, counted from its start (every pod running), e.g. 90m, "
            "2h or 36h: once passed, its pods are stopped and it is Failed with reason "
            "TimeLimitExceeded. The scheduler also counts on it to plan: a job with a limit "
            "may start ahead of a larger one when it ends before that one's reserved start "
            "(backfill, docs/time.md). Absent: its ComputeQueue's defaultTimeLimit, else its "
            "maxTimeLimit, else no limit."
        ),
    )
    expected_runtime: Duration | None = Field(
        default=None,
        alias="expectedRuntime",
        description=(
            "How long the job is expected to run (at most timeLimit), used only to estimate "
            "when the jobs waiting behind it start. Absent: its time limit, else its "
            "ComputeQueue's defaultExpectedRuntime."
        ),
    )

    @model_validator(mode="after")
    def _run_times(self) -> Self:
        limit = seconds(self.time_limit) if self.time_limit and _nonzero(self.time_limit) else 0
        expected = (
            seconds(self.expected_runtime)
            if self.expected_runtime and _nonzero(self.expected_runtime)
            else 0
        )
        _check(TIME_LIMIT_ABOVE_ZERO, self.time_limit is None or limit > 0)
        _check(EXPECTED_ABOVE_ZERO, self.expected_runtime is None or expected > 0)
        _check(EXPECTED_WITHIN_LIMIT, not (limit and expected) or expected <= limit)
        return self

    @property
    def time_limit_seconds(self) -> int | None:
        return seconds(self.time_limit) if self.time_limit else None

    @property
    def expected_runtime_seconds(self) -> int | None:
        return seconds(self.expected_runtime) if self.expected_runtime else None


def _nonzero(text: str) -> bool:
    return any(ch not in "0hms" for ch in text)


ONE_PRIORITY = Rule(
    rule="!has(self.priorityClassName) || !has(self.priority) || self.priority == 0",
    message="give either priority or priorityClassName, not both",
    field_path=".priorityClassName",
)
GANG_FITS_TASKS = Rule(
    rule="!has(self.gang) || self.gang.minMember <= self.tasks.map(t, t.replicas).sum()",
    message=(
        "gang.minMember exceeds the total replicas of all tasks; "
        "lower gang.minMember or add replicas"
    ),
    # `.format` rather than `+ string(n)`: the apiserver's cost estimate of a concatenation
    # with a converted number has no bound and exceeds the CRD budget.
    message_expression=(
        "'gang.minMember (%d) exceeds the total replicas of all tasks (%d); lower "
        "gang.minMember or add replicas'.format([self.gang.minMember, "
        "self.tasks.map(t, t.replicas).sum()])"
    ),
    field_path=".gang.minMember",
)


def _is_mpi(spec: str) -> str:
    """CEL: the job at `spec` has a launcher (see ComputeJobSpec.mpi_tasks)."""
    return (
        f"({spec}.tasks.exists(t, has(t.role) && t.role == 'launcher') || "
        f"(has({spec}.workload) && {spec}.workload == 'hpc' && size({spec}.tasks) > 1 && "
        f"{spec}.tasks.exists(t, t.name == 'launcher') && !{spec}.tasks.exists(t, has(t.role))))"
    )


ONE_LAUNCHER = Rule(
    rule="size(self.tasks.filter(t, has(t.role) && t.role == 'launcher')) <= 1",
    message="more than one task has role launcher; an MPI job has one launcher task",
    field_path=".tasks",
)
LAUNCHER_NEEDS_WORKERS = Rule(
    rule="!self.tasks.exists(t, has(t.role) && t.role == 'launcher') || size(self.tasks) > 1",
    message="a launcher needs workers; add a task for the workers beside the launcher task",
    field_path=".tasks",
    reason=Reason.REQUIRED,
)
WORKERS_NEED_LAUNCHER = Rule(
    rule=(
        "!self.tasks.exists(t, has(t.role) && t.role == 'worker') || "
        "self.tasks.exists(t, has(t.role) && t.role == 'launcher')"
    ),
    message="tasks with role worker need a launcher; give one task role launcher",
    field_path=".tasks",
    reason=Reason.REQUIRED,
)
MPI_NEEDS_LAUNCHER = Rule(
    rule=f"!has(self.mpi) || {_is_mpi('self')}",
    message=(
        "spec.mpi applies to a job with a launcher; give one task role launcher (or use "
        "workload hpc with a task named launcher), or drop spec.mpi"
    ),
    field_path=".mpi",
)


class ComputeJobSpec(_Model):
    """What to run and where it may run."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            GANG_FITS_TASKS,
            ONE_PRIORITY,
            ONE_LAUNCHER,
            LAUNCHER_NEEDS_WORKERS,
            WORKERS_NEED_LAUNCHER,
            MPI_NEEDS_LAUNCHER,
        )
    )

    workload: Workload = Field(
        default=Workload.BATCH,
        description=(
            "The kind of work. It selects the default weight of each score signal that "
            "policy.weights leaves unset (see Workload defaults)."
        ),
    )
    priority: Int = Field(
        default=0,
        ge=-1_000_000_000,
        le=1_000_000_000,
        description=(
            "Order within the job's ComputeQueue: higher is admitted first, and may preempt "
            "admitted jobs of lower priority there (the queue's preemption policy). A job that "
            "no queue admits is not ordered by it. The range of user PriorityClass values."
        ),
    )
    queue: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)] | None = Field(
        default=None,
        description=(
            "The ComputeQueue that admits the job against its quotas. Absent: the default "
            "queue of the job's namespace (a queue with `default: true` whose namespaceSelector "
            "matches), or, when there is none, no queue: the job is admitted at once."
        ),
    )
    priority_class_name: str | None = Field(
        default=None,
        alias="priorityClassName",
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description=(
            "A PriorityClass whose value is the job's priority (instead of `priority`). The "
            "job's pods do not carry it: Suanli orders and preempts whole jobs itself."
        ),
    )
    preemptible: Bool = Field(
        default=True,
        description=(
            "false: the job is never preempted to admit another (its queue's preemption "
            "policy does not apply to it)."
        ),
    )
    gang: Gang | None = Field(
        default=None,
        description="All-or-nothing scheduling; absent: pods start as they are placed.",
    )
    tasks: list[Task] = Field(
        min_length=1,
        max_length=MAX_TASKS,
        description="The roles of the job (e.g. a launcher and workers), each a set of pods.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    hpc: Hpc | None = Field(default=None, description="HPC requirements; absent: none.")
    mpi: Mpi | None = Field(
        default=None,
        description=(
            "Settings of an MPI job (one with a launcher task): the operator gives it a headless "
            "Service `<job>`, stable pod hostnames, a hostfile and an SSH key pair, and creates "
            "the launcher once every worker is Ready. Absent: the defaults, for a job with a "
            "launcher; only a job with a launcher may set it."
        ),
    )
    locality: Locality | None = Field(
        default=None, description="Placement by tier, zone and site; absent: anywhere."
    )
    cost: Cost | None = Field(default=None, description="Price ceiling and billing model.")
    data: Data | None = Field(
        default=None,
        description=(
            "How sensitive the job's data is and where it must stay; absent: the job is not "
            "bound by the data policy."
        ),
    )
    policy: Policy | None = Field(default=None, description="Scoring policy for this job.")
    run_policy: RunPolicy = Field(
        default_factory=RunPolicy,
        alias="runPolicy",
        description="Restarts, deadlines, clean-up and suspension.",
        # An empty default lets the apiserver fill in the nested defaults on every job.
        json_schema_extra={"default": {}},
    )

    @field_validator("tasks")
    @classmethod
    def _task_names_once(cls, value: list[Task]) -> list[Task]:
        _check_unique(
            [task.name for task in value],
            "another task is already named {value}; give each task its own name",
        )
        return value

    @model_validator(mode="after")
    def _one_priority(self) -> Self:
        _check(ONE_PRIORITY, self.priority_class_name is None or self.priority == 0)
        return self

    @model_validator(mode="after")
    def _gang_fits(self) -> Self:
        if self.gang is not None and self.gang.min_member > self.total_replicas:
            raise _refuse(
                "gang.minMember ({min_member}) exceeds the total replicas of all tasks "
                "({total}); lower gang.minMember or add replicas",
                GANG_FITS_TASKS.field_path,
                min_member=self.gang.min_member,
                total=self.total_replicas,
            )
        return self

    @model_validator(mode="after")
    def _mpi_roles(self) -> Self:
        roles = [task.role for task in self.tasks]
        _check(ONE_LAUNCHER, roles.count(Role.LAUNCHER) <= 1)
        _check(LAUNCHER_NEEDS_WORKERS, Role.LAUNCHER not in roles or len(roles) > 1)
        _check(WORKERS_NEED_LAUNCHER, Role.WORKER not in roles or Role.LAUNCHER in roles)
        _check(MPI_NEEDS_LAUNCHER, self.mpi is None or self.mpi_tasks() is not None)
        return self

    def mpi_tasks(self) -> tuple[str, list[str]] | None:
        """(the launcher task, the worker tasks) of an MPI job; None for any other job.

        A job is an MPI job when a task has role launcher, or, when no task has a role, when
        its workload is hpc and a task is named launcher (as MPI Operator's jobs are laid out).
        Workers are the tasks with role worker, else every task but the launcher.
        """
        roles = {task.name: task.role for task in self.tasks}
        launcher = next((n for n, r in roles.items() if r is Role.LAUNCHER), None)
        if launcher is None and not any(roles.values()) and self.workload is Workload.HPC:
            launcher = "launcher" if "launcher" in roles else None
        if launcher is None:
            return None
        workers = [n for n, r in roles.items() if r is Role.WORKER] or [
            n for n in roles if n != launcher
        ]
        return (launcher, workers) if workers else None

    @property
    def total_replicas(self) -> int:
        return sum(task.replicas for task in self.tasks)

    @property
    def total_devices(self) -> int:
        return sum(task.replicas * task.devices_per_pod for task in self.tasks)

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)


# --- status ---------------------------------------------------------------------------------


class Condition(_Model):
    """One aspect of the job's state, in the standard metav1.Condition shape."""

    type: str = Field(
        max_length=316,
        pattern=CONDITION_TYPE,
        description="The aspect, in CamelCase: Admitted, Scheduled, Ready, Finished, ...",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: Int | None = Field(
        default=None,
        alias="observedGeneration",
        ge=0,
        description="The .metadata.generation the condition was set for.",
    )
    last_transition_time: datetime = Field(
        alias="lastTransitionTime", description="When status last changed."
    )
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON,
        description="Why, as a CamelCase word for programs.",
    )
    message: str = Field(max_length=32768, description="Why, in words for people.")


class ScoreBreakdown(_Model):
    """Each signal's score for the chosen node, before weighting."""

    accelerator: Number | None = Field(default=None, description="Accelerator type and fit.")
    hpc: Number | None = Field(default=None, description="Interconnect, RDMA and packing.")
    locality: Number | None = Field(default=None, description="Tier and latency.")
    cost: Number | None = Field(default=None, description="Price.")
    packing: Number | None = Field(default=None, description="Filling busy nodes first.")


class Placement(_Model):
    """Where one pod was placed and why."""

    pod: str = Field(description="The pod's name.")
    node: str = Field(description="The node it was bound to.")
    task: str | None = Field(default=None, description="The task the pod belongs to.")
    accelerator_type: str | None = Field(
        default=None, alias="acceleratorType", description="Canonical type of its devices."
    )
    score: Int | None = Field(
        default=None, ge=0, le=10, description="The node's extender score, 0..10."
    )
    breakdown: ScoreBreakdown | None = Field(
        default=None, description="The score of each signal before weighting."
    )
    data: DataPlacement | None = Field(
        default=None,
        description=(
            "For confidential and restricted data: the data policy's rule that allowed the node."
        ),
    )


class QuotaCharge(_Model):
    """An amount of one quota resource held by the job."""

    resource: str = Field(
        max_length=63, description="An accelerator type, `gpu`, `cpu` (cores) or `memory` (GiB)."
    )
    amount: Number = Field(ge=0, description="Devices, cores or GiB.")


class QueueAdmission(_Model):
    """The quota the job holds in its queue, from admission until it finishes or is suspended."""

    queue: str = Field(max_length=63, description="The ComputeQueue that admitted the job.")
    accelerator_types: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list,
        alias="acceleratorTypes",
        max_length=64,
        description=(
            "The accelerator types its pods may use: those of the quota it was admitted under, "
            "in the job's order of preference."
        ),
    )
    charged: list[QuotaCharge] = Field(
        default_factory=list, max_length=8, description="What it holds, per quota resource."
    )
    admitted_at: datetime = Field(alias="admittedAt", description="When it was admitted.")


class ComputeJobStatus(_Model):
    """What the operator and the scheduler observed; written only through the status subresource."""

    phase: Phase | None = Field(default=None, description="Where the job is in its life.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Standard conditions, one per type.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    queue: str | None = Field(
        default=None, description="The ComputeQueue the job waits in or was admitted by."
    )
    queue_position: Int | None = Field(
        default=None,
        alias="queuePosition",
        ge=1,
        description=(
            "While waiting for quota: its place in its queue (1 is next), as of the job's last "
            "reconcile."
        ),
    )
    admission: QueueAdmission | None = Field(
        default=None, description="The quota the job holds; absent: none (yet)."
    )
    placements: list[Placement] = Field(
        default_factory=list,
        max_length=MAX_STATUS_PLACEMENTS,
        description=(
            f"Where bound pods went and why: the first {MAX_STATUS_PLACEMENTS} by pod name "
            "(`placed` counts them all; every bound pod carries its own explanation in its "
            "`suanli.dev/placement` annotation). Bounded so that the status of a job of "
            "thousands of pods stays small."
        ),
    )
    placed: Int | None = Field(default=None, ge=0, description="Pods of the job bound to a node.")
    unschedulable: str | None = Field(
        default=None,
        description=(
            "Why pods wait: the scheduler's filter reasons, aggregated over the nodes. "
            "Empty once every pod is placed."
        ),
    )
    tasks_ready: Int | None = Field(
        default=None, alias="tasksReady", ge=0, description="Pods of the job that are ready."
    )
    tasks_total: Int | None = Field(
        default=None, alias="tasksTotal", ge=0, description="Pods the job runs in total."
    )
    ready: str | None = Field(
        default=None, description="tasksReady/tasksTotal as text (e.g. 3/4), for kubectl get."
    )
    accelerator_type: str | None = Field(
        default=None,
        alias="acceleratorType",
        description="Canonical accelerator types allocated, comma-separated (e.g. H100).",
    )
    nodes: str | None = Field(
        default=None, description="The nodes the pods run on, summarised for kubectl get."
    )
    start_time: datetime | None = Field(
        default=None, alias="startTime", description="When the first pod started."
    )
    completion_time: datetime | None = Field(
        default=None, alias="completionTime", description="When the job finished."
    )
    price_per_hour: Number | None = Field(
        default=None,
        alias="pricePerHour",
        ge=0,
        description="What the running pods cost together, USD per hour.",
    )
    cost_accrued: Number | None = Field(
        default=None, alias="costAccrued", ge=0, description="USD spent so far."
    )
    restarts: Int | None = Field(
        default=None, ge=0, description="Pods recreated after failures (see backoffLimit)."
    )
    time_limit: str | None = Field(
        default=None,
        alias="timeLimit",
        max_length=24,
        description=(
            "The time limit the job runs under: runPolicy.timeLimit, else its queue's default "
            "(docs/time.md); absent: none."
        ),
    )
    estimated_start_time: datetime | None = Field(
        default=None,
        alias="estimatedStartTime",
        description=(
            "While the job waits: when it is expected to start, from the time limits (or "
            "expected run times) of the jobs running and of those ahead of it. Refreshed as the "
            "cluster changes; absent while no estimate can be made (see estimateBasis)."
        ),
    )
    estimated_nodes: list[Annotated[str, Field(max_length=253)]] | None = Field(
        default=None,
        alias="estimatedNodes",
        max_length=64,
        description=(
            "The nodes the estimate expects the job's pods on (at most 64); absent for an "
            "approximate estimate (see estimateBasis)."
        ),
    )
    estimate_basis: str | None = Field(
        default=None,
        alias="estimateBasis",
        max_length=2048,
        description=(
            "How the estimate was made: reserved or not, the jobs that must end first, which "
            "run times come from queue defaults or history rather than the jobs' own, and "
            "whether it is approximate (jobs behind the first 100 waiting: their requests are "
            "added up, not placed on nodes)."
        ),
    )
    observed_generation: Int | None = Field(
        default=None,
        alias="observedGeneration",
        ge=0,
        description="The .metadata.generation this status describes.",
    )


def ready_text(ready: int, total: int) -> str:
    """The value of status.ready, shown in the Ready column."""
    return f"{ready}/{total}"


# The job's name is the value of the `suanli.dev/job` label on its pods (at most 63 characters);
# the pod names `<job>-<task>-<index>` then stay within the 253 a pod name may have.
JOB_NAME_MAX = 63
JOB_NAME_FITS_LABEL = Rule(
    rule=f"size(self.metadata.name) <= {JOB_NAME_MAX}",
    message=(
        f"metadata.name must be at most {JOB_NAME_MAX} characters, since it labels the pods of "
        "the job (suanli.dev/job) and a label value may not be longer; choose a shorter name"
    ),
    field_path=".metadata.name",
    reason=Reason.INVALID,
)


# An MPI job's name names its headless Service (a DNS-1035 label) and begins the hostnames
# `<job>-<task>-<index>` of its pods (DNS-1123 labels of at most 63 characters).
_INDEX_DIGITS = "(t.replicas > 1000 ? 4 : (t.replicas > 100 ? 3 : (t.replicas > 10 ? 2 : 1)))"
MPI_JOB_NAME = Rule(
    rule=(f"!{_is_mpi('self.spec')} || self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"),
    message=(
        "an MPI job's name is the name of its headless Service; use lower case letters, "
        "digits and '-', starting with a letter (no '.')"
    ),
    field_path=".metadata.name",
)
MPI_HOSTNAMES_FIT = Rule(
    rule=(
        f"!{_is_mpi('self.spec')} || self.spec.tasks.all(t, "
        f"size(self.metadata.name) + size(t.name) + {_INDEX_DIGITS} + 2 <= 63)"
    ),
    message=(
        "an MPI job's pods are reached by their hostnames <job>-<task>-<index>, which may "
        "have at most 63 characters; shorten the job's or the tasks' names"
    ),
    field_path=".metadata.name",
)
_MPI_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class ComputeJob(_Model):
    """A job of one or more tasks placed by accelerator type, HPC capability and locality.

    Suanli creates the pods, starts gangs all-or-nothing through its scheduler, and reports
    where each pod went and why in the status.
    """

    model_config = ConfigDict(
        json_schema_extra=validations(JOB_NAME_FITS_LABEL, MPI_JOB_NAME, MPI_HOSTNAMES_FIT)
    )

    api_version: Literal["suanli.dev/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["ComputeJob"] = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ComputeJobSpec = Field(description="What to run and where it may run.")
    status: ComputeJobStatus | None = Field(
        default=None, description="What was observed; written by Suanli."
    )

    @field_validator("metadata")
    @classmethod
    def _name_fits_label(cls, value: dict[str, Any]) -> dict[str, Any]:
        name = value.get("name")
        if isinstance(name, str) and len(name) > JOB_NAME_MAX:
            # The rule sits on the whole job; this validator sees the metadata only.
            raise _refuse(JOB_NAME_FITS_LABEL.message, ".name")
        return value

    @model_validator(mode="after")
    def _mpi_names(self) -> Self:
        name = self.metadata.get("name")
        if not isinstance(name, str) or self.spec.mpi_tasks() is None:
            return self
        _check(MPI_JOB_NAME, re.fullmatch(_MPI_NAME, name) is not None)
        longest = max(len(f"{name}-{task.name}-{task.replicas - 1}") for task in self.spec.tasks)
        _check(MPI_HOSTNAMES_FIT, longest <= 63)
        return self


# Shared with the other API modules (the ComputeQueue's).
refuse = _refuse
check_unique = _check_unique
