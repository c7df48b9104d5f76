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
