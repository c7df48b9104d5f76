"""Every Prometheus metric Suanli exports, in one place, named in kube-scheduler's style."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Extender verbs run in well under a millisecond on small clusters and tens of milliseconds on
# thousands of nodes: exponential buckets from 0.25 ms cover both.
_LATENCY_BUCKETS = tuple(0.00025 * 2**i for i in range(16))


class ExtenderMetrics:
    """The extender's metrics, on a registry of their own so tests can read them in isolation."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "suanli_extender_requests_total",
            "Extender requests by verb and result (success, error, unschedulable).",
            ["verb", "result"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "suanli_extender_request_duration_seconds",
            "Time to answer an extender request, by verb and result.",
            ["verb", "result"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.phase_duration = Histogram(
            "suanli_extender_phase_duration_seconds",
            "Where a request's time goes, by verb and phase (read, decode, decide, encode).",
            ["verb", "phase"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bad_requests = Counter(
            "suanli_extender_bad_requests_total",
            "Requests refused before scoring, by verb and reason "
            "(too_large, malformed_json, invalid_body, unknown_node, invalid_demand).",
            ["verb", "reason"],
            registry=self.registry,
        )
        self.placements = Counter(
            "suanli_extender_placements_total",
            "Pods bound by the extender, by accelerator type and tier of the chosen node.",
            ["accelerator_type", "tier"],
            registry=self.registry,
        )
        self.filtered_nodes = Counter(
            "suanli_extender_filtered_nodes_total",
            "Nodes rejected by the filter verb, by outcome (resolvable, unresolvable).",
            ["outcome"],
            registry=self.registry,
        )
        self.cache_objects = Gauge(
            "suanli_extender_cache_objects",
            "Objects in the extender's watch cache, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.explanations_lost = Counter(
            "suanli_extender_explanations_lost_total",
            "Explanations (Events, pod annotations) not written, by reason "
            "(queue_full: more than the recorder's queue holds; write_failed: the apiserver "
            "refused or could not be reached).",
            ["reason"],
            registry=self.registry,
        )
        self.explanations_pending = Gauge(
            "suanli_extender_explanations_pending",
            "Explanations (Events, pod annotations) queued and not written yet.",
            registry=self.registry,
        )


# Jobs reach Running within seconds on an idle cluster and after hours in a busy queue.
_WAIT_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600)


class OperatorMetrics:
    """The operator's metrics: the life of ComputeJobs and the health of reconciling them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.jobs = Gauge(
            "suanli_computejobs",
            "ComputeJobs by namespace and phase.",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.time_to_running = Histogram(
            "suanli_computejob_time_to_running_seconds",
            "Time from a ComputeJob's creation until all its pods run.",
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.gang_wait = Histogram(
            "suanli_computejob_gang_wait_seconds",
            "Time from a gang's creation until a full placement was found (admission).",
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.reconciles = Counter(
            "suanli_operator_reconciles_total",
            "Reconciliations of ComputeJobs by result (success, error).",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "suanli_operator_reconcile_duration_seconds",
            "Time to reconcile one ComputeJob.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pods_created = Counter(
            "suanli_operator_pods_created_total",
            "Pods created for ComputeJobs.",
            registry=self.registry,
        )
        self.cost = Gauge(
            "suanli_computejob_cost_per_hour",
            "Price per hour of the pods ComputeJobs run now, by namespace.",
            ["namespace"],
            registry=self.registry,
        )
        self.cost_accrued = Gauge(
            "suanli_computejob_cost_accrued",
            "Cost accrued by ComputeJobs known to the operator, by namespace.",
            ["namespace"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "suanli_operator_queue_depth",
            "ComputeJobs waiting to be reconciled.",
            registry=self.registry,
        )
        self.queue_jobs = Gauge(
            "suanli_computequeue_jobs",
            "ComputeJobs per ComputeQueue: pending (waiting for quota) or admitted (holding it).",
            ["queue", "state"],
            registry=self.registry,
        )
        self.queue_quota = Gauge(
            "suanli_computequeue_quota",
            "Per ComputeQueue and quota resource: nominal, used (held by admitted jobs) and "
            "borrowed (used above nominal, from the cohort); devices, cores or GiB.",
            ["queue", "resource", "amount"],
            registry=self.registry,
        )
        self.preemptions = Counter(
            "suanli_computequeue_preemptions_total",
            "ComputeJobs preempted, by the queue of the preempted job and why.",
            ["queue", "reason"],
            registry=self.registry,
        )
