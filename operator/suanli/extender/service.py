"""Filter, prioritize and bind: the extender's verbs over the cache and the scoring core.

No HTTP here (the server decodes and encodes) and no Kubernetes client (a `Binder` and a
`Recorder` are handed in), so the verbs are tested directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from suanli.extender import explain
from suanli.extender.cache import ClusterCache
from suanli.extender.configfiles import ScoringConfigFiles
from suanli.extender.settings import ExtenderSettings
from suanli.extender.wire import (
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    HostPriority,
)
from suanli.metrics import ExtenderMetrics
from suanli.scoring import (
    GPU_DEVICES_ANNOTATION,
    Allocation,
    Decision,
    DemandError,
    Outcome,
    PodDemand,
    best_nodes,
    evaluate,
    format_allocation,
    parse_pod,
)
from suanli.scoring.devices import candidates

# Written by the operator when it admits a gang: the node its plan chose for the pod.
PLANNED_NODE_ANNOTATION = "suanli.dev/planned-node"
# Filter results kept for the bind that follows, keyed by pod UID.
_DECISION_MEMORY = 4096


class BadRequestError(Exception):
    """A request the extender refuses; `reason` labels the metric, the message goes to `Error`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Binder(Protocol):
    def bind(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Create the Binding (with annotations the apiserver copies onto the pod); raise
        BindError when the apiserver refuses it."""


class Recorder(Protocol):
    def placed(self, pod: Mapping[str, Any], explanation: dict[str, Any]) -> None: ...

    def unschedulable(self, pod: Mapping[str, Any], message: str) -> None: ...


class BindError(Exception):
    pass


@dataclass(frozen=True)
class _Remembered:
    pod: Mapping[str, Any]
    decision: Decision | None


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


class ExtenderService:
    def __init__(
        self,
        *,
        settings: ExtenderSettings,
        cache: ClusterCache,
        config_files: ScoringConfigFiles,
        metrics: ExtenderMetrics,
        binder: Binder,
        recorder: Recorder,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.config_files = config_files
        self.metrics = metrics
        self.binder = binder
        self.recorder = recorder
        self._memory: OrderedDict[str, _Remembered] = OrderedDict()

    def manages(self, pod: Mapping[str, Any]) -> bool:
        scheduler = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return scheduler in self.settings.scheduler_names

    def _remember(self, pod: Mapping[str, Any], decision: Decision | None) -> None:
        uid = _uid(pod)
        if not uid:
            return
        self._memory[uid] = _Remembered(pod, decision)
        self._memory.move_to_end(uid)
        while len(self._memory) > _DECISION_MEMORY:
            self._memory.popitem(last=False)

    def _demand(self, pod: Mapping[str, Any]) -> PodDemand:
        try:
            return parse_pod(pod)
        except DemandError as error:
            metadata = pod.get("metadata") or {}
            where = f"pod {metadata.get('namespace', 'default')}/{metadata.get('name', '?')}"
            # The pod's owner reads this on the pod; the scheduler only logs the Error.
            self.recorder.unschedulable(pod, f"cannot place: {error}")
            raise BadRequestError("invalid_demand", f"{where}: {error}") from None

    def _decide(self, args: ExtenderArgs, verb: str) -> tuple[Decision, list[str]]:
        """Evaluate the pod on the named nodes; returns the decision and the unknown names."""
        names = args.candidate_names()
        self.config_files.refresh()
        snapshot = self.cache.snapshot()
        known = snapshot.select(names)
        unknown = sorted(set(names) - {n.name for n in known})
        if unknown:
            self.metrics.bad_requests.labels(verb, "unknown_node").inc(len(unknown))
        if names and not known:
            raise BadRequestError(
                "unknown_node",
                f"none of the {len(names)} nodes is in the extender's cache (e.g. {unknown[0]!r}); "
                "it may still be syncing: retry shortly",
            )
        demand = self._demand(args.pod)
        decision = evaluate(
            demand,
            known,
            self.config_files.catalog,
            self.config_files.latency,
            peers=snapshot.peers_of(demand),
            workload=self.cache.workload(),
        )
        return decision, unknown

    def filter(self, args: ExtenderArgs) -> ExtenderFilterResult:
        names = args.candidate_names()
        if not self.manages(args.pod):
            return ExtenderFilterResult(NodeNames=names)
        decision, unknown = self._decide(args, "filter")
        self._remember(args.pod, decision)
        failed: dict[str, str] = dict.fromkeys(unknown, "node not in the extender's cache yet")
        unresolvable: dict[str, str] = {}
        for result in decision.results:
            verdict = result.verdict
            # The node-agnostic category lets kube-scheduler group identical reasons.
            reason = verdict.category or verdict.reason
            if verdict.outcome is Outcome.RESOLVABLE:
                failed[verdict.node] = reason
            elif verdict.outcome is Outcome.UNRESOLVABLE:
                unresolvable[verdict.node] = reason
        self.metrics.filtered_nodes.labels("resolvable").inc(len(failed))
        self.metrics.filtered_nodes.labels("unresolvable").inc(len(unresolvable))
        if not decision.ranking:
            self.recorder.unschedulable(args.pod, explain.unschedulable_message(decision))
        return ExtenderFilterResult(
            NodeNames=list(self._narrow(args.pod, decision)),
            FailedNodes=failed,
            FailedAndUnresolvableNodes=unresolvable,
        )

    def _narrow(self, pod: Mapping[str, Any], decision: Decision) -> tuple[str, ...]:
        """The feasible nodes to offer: the gang admission's planned node while it still fits
        (the plan placed the whole gang together), else the best `filter_top_k`."""
        planned = ((pod.get("metadata") or {}).get("annotations") or {}).get(
            PLANNED_NODE_ANNOTATION
        )
        if planned in decision.ranking:
            return (str(planned),)
        keep = self.settings.filter_top_k
        return best_nodes(decision, keep) if keep and decision.ranking else decision.ranking

    def prioritize(self, args: ExtenderArgs) -> list[HostPriority]:
        names = args.candidate_names()
        if not self.manages(args.pod):
            return [HostPriority(Host=name, Score=0) for name in names]
        decision, _ = self._decide(args, "prioritize")
        scores = decision.scores
        return [HostPriority(Host=name, Score=scores.get(name, 0)) for name in names]

    def bind(self, args: ExtenderBindingArgs) -> ExtenderBindingResult:
        remembered = self._memory.get(args.pod_uid)
        pod = (
            remembered.pod
            if remembered
            else {
                "metadata": {
                    "name": args.pod_name,
                    "namespace": args.pod_namespace,
                    "uid": args.pod_uid,
                }
            }
        )
        try:
            devices = self._devices(pod, args.node)
        except BindError as error:
            return ExtenderBindingResult(Error=str(error))
        # The device list rides on the Binding: the apiserver copies its annotations onto the
        # pod together with the node name, so a device plugin never sees one without the other.
        annotations = {GPU_DEVICES_ANNOTATION: format_allocation(devices)} if devices else {}
        try:
            self.binder.bind(
                args.pod_namespace, args.pod_name, args.pod_uid, args.node, annotations
            )
        except BindError as error:
            return ExtenderBindingResult(Error=str(error))
        self._memory.pop(args.pod_uid, None)
        self.cache.assume(pod, args.node, devices or None)
        self._count_placement(args.node)
        if remembered is not None and self.manages(pod):
            explanation = explain.placement(
                remembered.decision, args.node, self.settings.runners_up, devices
            )
            self.recorder.placed(pod, explanation)
        return ExtenderBindingResult()

    def _devices(self, pod: Mapping[str, Any], node: str) -> Allocation:
        """The devices the pod gets on `node`, chosen on the cache as it is now (other pods may
        have landed there since the filter); BindError when they no longer fit."""
        if not self.manages(pod) or "spec" not in pod:
            return ()
        try:
            demand = parse_pod(pod)
        except DemandError:
            return ()
        if not demand.gpu.wants:
            return ()
        snapshot = self.cache.snapshot()
        chosen = snapshot.node(node)
        if chosen is None:
            return ()
        decision = evaluate(
            demand,
            [chosen],
            self.config_files.catalog,
            self.config_files.latency,
            peers=snapshot.peers_of(demand),
            workload=self.cache.workload(),
        )
        result = decision.result(node)
        if result.feasible:
            return result.allocation
        options = candidates(chosen.devices_used(), demand.gpu)
        if not options:
            raise BindError(f"devices on {node} were taken meanwhile: {result.verdict.reason}")
        # Something else no longer fits (kube-scheduler has its own view of cpu and memory);
        # the devices still do, at their tightest fit.
        return options[0]

    def _count_placement(self, node: str) -> None:
        snapshot = self.cache.snapshot()
        chosen = snapshot.node(node)
        if chosen is None:
            return
        accelerator = chosen.facts.accelerator
        kind = accelerator.type.name if accelerator and accelerator.type else "none"
        self.metrics.placements.labels(kind, chosen.facts.tier.value).inc()
