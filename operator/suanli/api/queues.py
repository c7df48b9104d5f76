"""The ComputeQueue API (suanli.dev/v1alpha1, cluster-scoped): quotas that admit ComputeJobs.

A queue holds quotas per resource: a catalog accelerator type (`H100`), `gpu` for any type the
queue does not list by name, `cpu` (cores) and `memory` (GiB). A job is admitted when its whole
request fits the queue's nominal quota plus what it may borrow from the other queues of its
cohort, for one of its accepted accelerator types in preference order. The CRD and the reference
are generated from these models, like the ComputeJob's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from suanli.api.cel import Rule, validations
from suanli.api.durations import MAX_SECONDS, Duration, DurationError, seconds
from suanli.api.models import (
    API_VERSION,
    DNS_LABEL,
    ApiModel,
    Bool,
    Int,
    Number,
    check_unique,
    refuse,
)

QUEUE_KIND: Final = "ComputeQueue"
QUEUE_PLURAL = "computequeues"
QUEUE_SINGULAR = "computequeue"
QUEUE_SHORT_NAMES = ("cq", "cqueue")

ANY_GPU: Final = "gpu"
# The pseudo-resource a charge carries for the budget: USD per hour of the job's devices.
PRICE_RESOURCE: Final = "pricePerHour"
CPU_RESOURCE: Final = "cpu"
MEMORY_RESOURCE: Final = "memory"
MAX_QUOTAS = 32
MAX_SELECTOR_TERMS = 16
# An accelerator type of the catalog (canonical name or alias), or one of the pools above.
RESOURCE_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
QueueName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
Amount = Annotated[float, Field(ge=0, le=1e12)]


class HeadOfLine(StrEnum):
    """What a queue does when the job at its head does not fit."""

    STRICT_FIFO = "StrictFIFO"
    BEST_EFFORT_FIFO = "BestEffortFIFO"


class WithinQueue(StrEnum):
    """Whether a job may take the quota of lower-priority jobs of its own queue."""

    NEVER = "Never"
    LOWER_PRIORITY = "LowerPriority"


class Preemption(ApiModel):
    """When admitting a job may stop admitted ones (whole jobs, never part of a gang)."""

    within_queue: WithinQueue = Field(
        default=WithinQueue.LOWER_PRIORITY,
        alias="withinQueue",
        description=(
            "LowerPriority: a job that does not fit may preempt admitted jobs of the same queue "
            "with a lower priority; Never: it waits."
        ),
    )
    reclaim_borrowed: Bool = Field(
        default=True,
        alias="reclaimBorrowed",
        description=(
            "A job that fits the queue's nominal quota, but whose quota is lent to the cohort, "
            "may preempt jobs of other queues that borrow it, whatever their priority."
        ),
    )
    fair_sharing: Bool = Field(
        default=False,
        alias="fairSharing",
        description=(
            "A job that does not fit may preempt jobs of other queues of the cohort that "
            "borrow what it needs and hold a larger weighted share, whatever their priority, "
            "as long as each victim's queue still holds at least the share this queue holds "
            "with the job admitted (so the preemption never turns who is ahead around)."
        ),
    )


class FairShare(ApiModel):
    """How the queues of a cohort take turns: by dominant share of quota, weighted."""

    weight: Annotated[float, Field(ge=0.001, le=1e6)] = Field(
        default=1.0,
        description=(
            "A queue's share is divided by its weight: a queue of weight 2 is served before "
            "one of weight 1 until it holds twice the share."
        ),
    )
    usage_half_life_hours: Annotated[float, Field(ge=0, le=8760)] = Field(
        default=24.0,
        alias="usageHalfLifeHours",
        description=(
            "How fast past usage is forgotten: the share counts what the queue holds now plus "
            "its usage averaged with this half-life; 0 counts only what it holds now."
        ),
    )


PERIOD = r"^[1-9][0-9]{0,3}(h|d)$"


class SpendLimit(ApiModel):
    """What the queue's jobs may spend per period (prepaid compute, as the services bill it)."""

    limit: Amount = Field(description="USD per period.")
    period: str = Field(
        max_length=5,
        pattern=PERIOD,
        description=(
            "Hours or days (e.g. 24h, 7d, 30d); periods start at whole multiples of it since "
            "1970-01-01 UTC, and spending starts from 0 in each."
        ),
    )

    @property
    def seconds(self) -> float:
        unit = 3600 if self.period.endswith("h") else 86400
        return float(self.period[:-1]) * unit


class Budget(ApiModel):
    """Money limits on the queue's jobs."""

    max_price_per_hour: Amount | None = Field(
        default=None,
        alias="maxPricePerHour",
        description=(
            "USD per hour that the queue's admitted jobs may cost together, each counted at "
            "its devices' catalog price (jobs without accelerators count 0)."
        ),
    )
    spend: SpendLimit | None = Field(
        default=None,
        description=(
            "A spend limit per period, charged from the price per hour of the queue's running "
            "jobs. A job is admitted only if the period's spend plus what the running jobs and "
            "it cost over the next accounting interval stays within the limit; when the spend "
            "would pass it, running jobs are preempted (lowest priority first) and wait for "
            "the next period."
        ),
    )


DEFAULT_WITHIN_MAX = Rule(
    "!has(self.defaultTimeLimit) || !has(self.maxTimeLimit) || "
    "duration(self.defaultTimeLimit) <= duration(self.maxTimeLimit)",
    "runtime.defaultTimeLimit exceeds runtime.maxTimeLimit; lower the default or raise the maximum",
    field_path=".defaultTimeLimit",
)
RUNTIME_ABOVE_ZERO = Rule(
    "[has(self.defaultTimeLimit) ? self.defaultTimeLimit : '1s', "
    "has(self.maxTimeLimit) ? self.maxTimeLimit : '1s', "
    "has(self.defaultExpectedRuntime) ? self.defaultExpectedRuntime : '1s']"
    ".all(d, duration(d) > duration('0s'))",
    "a run time of spec.runtime is zero; give durations above 0 such as 90m or 2h",
)


class Runtime(ApiModel):
    """Run times of the queue's jobs: the limit of those that set none, and the longest allowed."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(DEFAULT_WITHIN_MAX, RUNTIME_ABOVE_ZERO)
    }

    default_time_limit: Duration | None = Field(
        default=None,
        alias="defaultTimeLimit",
        description=(
            "The runPolicy.timeLimit of a job that sets none (e.g. 2h); it is enforced like "
            "the job's own."
        ),
    )
    max_time_limit: Duration | None = Field(
        default=None,
        alias="maxTimeLimit",
        description=(
            "The longest runPolicy.timeLimit a job may set (e.g. 24h): a job asking for more "
            "waits with reason TimeLimitTooLong naming the field. A job that sets none and "
            "finds no defaultTimeLimit gets this one."
        ),
    )
    default_expected_runtime: Duration | None = Field(
        default=None,
        alias="defaultExpectedRuntime",
        description=(
            "The runPolicy.expectedRuntime of a job that sets neither it nor a time limit: "
            "what start-time estimates count on for it (status.estimatedStartTime says so)."
        ),
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> Self:
        found = {}
        for field, value in (
            ("defaultTimeLimit", self.default_time_limit),
            ("maxTimeLimit", self.max_time_limit),
            ("defaultExpectedRuntime", self.default_expected_runtime),
        ):
            if value is None:
                continue
            try:
                found[field] = seconds(value)
            except DurationError:
                raise refuse(RUNTIME_ABOVE_ZERO.message, field) from None
        if found.get("defaultTimeLimit", 0) > found.get("maxTimeLimit", MAX_SECONDS * 10):
            raise refuse(DEFAULT_WITHIN_MAX.message, "defaultTimeLimit")
        return self


BORROWING_NEEDS_COHORT = Rule(
    "has(self.cohort) || self.quotas.all(q, !has(q.borrowingLimit) || q.borrowingLimit == 0.0)",
    "borrowingLimit needs a cohort to borrow from; set spec.cohort or drop borrowingLimit",
    field_path=".quotas",
)
LENDING_WITHIN_NOMINAL = Rule(
    "!has(self.lendingLimit) || self.lendingLimit <= self.nominal",
    "lendingLimit exceeds nominal; a queue lends only its own quota",
    field_path=".lendingLimit",
)


class Quota(ApiModel):
    """How much of one resource the queue's admitted jobs may hold at once."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(LENDING_WITHIN_NOMINAL)
    }

    resource: str = Field(
        min_length=1,
        max_length=63,
        pattern=RESOURCE_NAME,
        description=(
            "A catalog accelerator type (e.g. H100; an alias means its canonical type), `gpu` "
            "for accelerators of any type the queue does not list by name, `cpu` (cores) or "
            "`memory` (GiB)."
        ),
    )
    nominal: Amount = Field(
        description="What the queue is guaranteed: devices, cores or GiB held by its jobs."
    )
    borrowing_limit: Amount | None = Field(
        default=None,
        alias="borrowingLimit",
        description=(
            "How much more than nominal the queue may take from the idle nominal quota of the "
            "other queues of its cohort; absent: no limit but theirs."
        ),
    )
    lending_limit: Amount | None = Field(
        default=None,
        alias="lendingLimit",
        description=(
            "How much of its idle nominal quota the queue lends to its cohort; absent: all of it."
        ),
    )

    @model_validator(mode="after")
    def _lending_within_nominal(self) -> Self:
        if self.lending_limit is not None and self.lending_limit > self.nominal:
            raise refuse(LENDING_WITHIN_NOMINAL.message, "lendingLimit")
        return self


class SelectorRequirement(ApiModel):
    """One `matchExpressions` term of a label selector."""

    key: str = Field(min_length=1, max_length=317, description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist."
    )
    values: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list, max_length=64, description="For In and NotIn."
    )


class NamespaceSelector(ApiModel):
    """A label selector over namespaces, as in the core API."""

    match_labels: dict[str, Annotated[str, Field(max_length=63)]] = Field(
        default_factory=dict,
        alias="matchLabels",
        max_length=MAX_SELECTOR_TERMS,
        description="Labels a namespace must carry, all of them.",
    )
    match_expressions: list[SelectorRequirement] = Field(
        default_factory=list,
        alias="matchExpressions",
        max_length=MAX_SELECTOR_TERMS,
        description="Further requirements, all of them.",
    )


class ComputeQueueSpec(ApiModel):
    """Who may submit to the queue and how much their jobs may hold."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(BORROWING_NEEDS_COHORT)
    }

    cohort: QueueName | None = Field(
        default=None,
        description="Queues of one cohort lend each other their idle nominal quota.",
    )
    namespace_selector: NamespaceSelector | None = Field(
        default=None,
        alias="namespaceSelector",
        description="The namespaces whose jobs may use the queue; absent: every namespace.",
    )
    default: Bool = Field(
        default=False,
        description=(
            "The queue of jobs that name none, in the namespaces it selects. When several "
            "default queues select a namespace, the first by name is taken."
        ),
    )
    quotas: list[Quota] = Field(
        default_factory=list,
        max_length=MAX_QUOTAS,
        description=(
            "Quotas per resource. A resource not listed is not limited, except accelerators: "
            "a job's devices need the quota of their type or `gpu`."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["resource"],
        },
    )
    fair_share: FairShare = Field(
        default_factory=FairShare,
        alias="fairShare",
        description="The queue's weight and memory among the queues of its cohort.",
        json_schema_extra={"default": {}},
    )
    budget: Budget | None = Field(default=None, description="Money limits; absent: none.")
    preemption: Preemption = Field(
        default_factory=Preemption,
        description="When admitting a job may preempt admitted ones.",
        json_schema_extra={"default": {}},
    )
    runtime: Runtime | None = Field(
        default=None,
        description=(
            "Default and largest run times of the queue's jobs (runPolicy.timeLimit, "
            "expectedRuntime); absent: jobs run as long as they set."
        ),
    )
    head_of_line: HeadOfLine = Field(
        default=HeadOfLine.BEST_EFFORT_FIFO,
        alias="headOfLine",
        description=(
            "StrictFIFO: nothing behind a job that does not fit is admitted; BestEffortFIFO: "
            "a job behind it may go if it fits."
        ),
    )

    @field_validator("quotas")
    @classmethod
    def _one_quota_per_resource(cls, value: list[Quota]) -> list[Quota]:
        check_unique(
            [q.resource for q in value],
            "another quota is already for {value}; give each resource one quota",
        )
        return value

    @model_validator(mode="after")
    def _borrowing_needs_cohort(self) -> Self:
        borrowing = [i for i, q in enumerate(self.quotas) if q.borrowing_limit]
        if borrowing and self.cohort is None:
            raise refuse(BORROWING_NEEDS_COHORT.message, "quotas")
        return self

    def quota(self, resource: str) -> Quota | None:
        return next((q for q in self.quotas if q.resource == resource), None)


class ResourceUsage(ApiModel):
    """What the queue's admitted jobs hold of one resource."""

    resource: str = Field(description="The quota's resource.")
    nominal: Number = Field(description="The quota's nominal amount.")
    used: Number = Field(description="Held by admitted jobs that have not finished.")
    borrowed: Number = Field(description="The part of `used` above nominal, from the cohort.")


class ResourceAmount(ApiModel):
    """An amount of one quota resource."""

    resource: str = Field(description="The quota's resource.")
    amount: Number = Field(description="Devices, cores or GiB.")


class Spend(ApiModel):
    """Spending in the current budget period."""

    period_start: datetime = Field(alias="periodStart", description="When the period began.")
    spent: Number = Field(ge=0, description="USD charged in the period so far.")
    price_per_hour: Number = Field(
        ge=0, alias="pricePerHour", description="USD per hour of the queue's running jobs."
    )
    accounted_at: datetime = Field(alias="accountedAt", description="When last charged.")


class RuntimeHistory(ApiModel):
    """The actual run times of the queue's jobs that succeeded, as one decayed mean."""

    jobs: Int = Field(ge=1, description="Succeeded jobs counted.")
    mean_seconds: Number = Field(
        ge=0,
        alias="meanSeconds",
        description=(
            "Their run time (completion minus start) in seconds: the mean of the first 20, "
            "then each new one moves it by a 20th of the difference, so recent jobs count most."
        ),
    )
    last_finished: datetime = Field(
        alias="lastFinished", description="When the last job counted finished."
    )


class ComputeQueueStatus(ApiModel):
    """What the operator last counted."""

    pending: Int = Field(default=0, ge=0, description="Jobs waiting for quota.")
    admitted: Int = Field(default=0, ge=0, description="Admitted jobs that have not finished.")
    usage: list[ResourceUsage] = Field(
        default_factory=list, max_length=MAX_QUOTAS, description="Per quota."
    )
    summary: str | None = Field(
        default=None, description="Usage against quota as text (e.g. H100 12/16), for kubectl get."
    )
    fair_share: Number | None = Field(
        default=None,
        alias="fairShare",
        description=(
            "The queue's weighted dominant share: the largest share of its cohort's nominal "
            "quota it holds now plus its averaged past usage, over its weight (accelerator "
            "devices of every type count as one resource); the cohort serves the lowest first."
        ),
    )
    average_usage: list[ResourceAmount] = Field(
        default_factory=list,
        alias="averageUsage",
        max_length=MAX_QUOTAS,
        description="Past usage per quota, averaged with the queue's usage half-life.",
    )
    spend: Spend | None = Field(default=None, description="Spending against budget.spend.")
    averaged_at: datetime | None = Field(
        default=None,
        alias="averagedAt",
        description="When averageUsage was last brought up to date.",
    )
    runtime_history: RuntimeHistory | None = Field(
        default=None,
        alias="runtimeHistory",
        description=(
            "Run times of the queue's succeeded jobs: start-time estimates count on their mean "
            "for jobs with no expectedRuntime, no time limit and no runtime defaults."
        ),
    )


class ComputeQueue(ApiModel):
    """Quotas per accelerator type, cpu and memory that admit the ComputeJobs sent to it."""

    api_version: Literal["suanli.dev/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["ComputeQueue"] = QUEUE_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ComputeQueueSpec = Field(description="Who may submit and how much jobs may hold.")
    status: ComputeQueueStatus | None = Field(
        default=None, description="What was counted; written by Suanli."
    )
