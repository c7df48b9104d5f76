"""Filter, prioritize and bind: the extender's verbs over the cache and the scoring core.

No HTTP here (the server decodes and encodes) and no Kubernetes client (a `Binder` and a
`Recorder` are handed in), so the verbs are tested directly.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.extender import explain
from suanli.extender.bindnotes import data_record, stack_annotations
from suanli.extender.decisions import Decisions
from suanli.extender.owners import Distrust, KnownJobs, refusal
from suanli.extender.ports import BadRequestError, Binder, BindError, Recorder
from suanli.extender.settings import ExtenderSettings
from suanli.extender.wire import (
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    HostPriority,
)
from suanli.keys import GPU_DEVICES_ANNOTATION, PLACEMENT_ANNOTATION
from suanli.metrics import ExtenderMetrics
from suanli.scoring import Allocation, DemandError, PodDemand, format_allocation, parse_pod
from suanli.scoring.devices import candidates
from suanli.state import HOLD_TTL_SECONDS, Choice, ClusterFeed, planned_node_of


@dataclass(frozen=True)
class _Distrusted:
    reason: str = "no ComputeJob owns this pod: its suanli.dev scheduling annotations are ignored"

    def answer(self, names: list[str]) -> ExtenderFilterResult:
        return ExtenderFilterResult.answer([], {}, dict.fromkeys(names, self.reason))


class ExtenderService:
    def __init__(
        self,
        *,
        settings: ExtenderSettings,
        cache: ClusterFeed,
        config_files: ScoringConfigFiles,
        metrics: ExtenderMetrics,
        binder: Binder,
        recorder: Recorder,
        jobs: KnownJobs | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.config_files = config_files
        self.metrics = metrics
        self.binder = binder
        self.recorder = recorder
        self.jobs = jobs if jobs is not None else KnownJobs()
        self._decisions = Decisions()
        # Binds run on a pool of threads: choosing a pod's devices and counting them as taken
        # is one step, or two pods bound to one node at once would be given the same devices.
        self._claiming = threading.Lock()

    def manages(self, pod: Mapping[str, Any]) -> bool:
        scheduler = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return scheduler in self.settings.scheduler_names

    def _demand(self, pod: Mapping[str, Any]) -> PodDemand:
        try:
            return parse_pod(pod)
        except DemandError as error:
            metadata = pod.get("metadata") or {}
            where = f"pod {metadata.get('namespace', 'default')}/{metadata.get('name', '?')}"
            # The pod's owner reads this on the pod; the scheduler only logs the Error.
            self.recorder.unschedulable(pod, f"cannot place: {error}")
            raise BadRequestError("invalid_demand", f"{where}: {error}") from None

    def _decide(
        self,
        args: ExtenderArgs,
        verb: str,
        names: list[str],
        keep: int,
        detail: int | None = None,
        *,
        complete: bool = True,
    ) -> tuple[PodDemand, Choice]:
        """Judge the pod on `names`; full results for the best `keep`."""
        self.config_files.refresh()
        self.cache.prepare()
        demand = self._demand(args.pod)
        choice = self._choose(demand, names, keep, detail, complete=complete)
        if choice.unknown:
            self.metrics.bad_requests.labels(verb, "unknown_node").inc(len(choice.unknown))
        if names and not choice.candidates:
            raise BadRequestError(
                "unknown_node",
                f"none of the {len(names)} nodes is in the extender's cache "
                f"(e.g. {choice.unknown[0]!r}); it may still be syncing: retry shortly",
            )
        return demand, choice

    def _choose(
        self,
        demand: PodDemand,
        names: list[str],
        keep: int,
        detail: int | None = None,
        *,
        complete: bool = True,
    ) -> Choice:
        return self.cache.decider.decide(
            demand,
            names,
            catalog=self.config_files.catalog,
            latency=self.config_files.latency,
            data_policy=self.config_files.data_policy,
            workload=self.cache.workload(),
            keep=keep,
            detail=detail,
            complete=complete,
        )

    def filter(self, args: ExtenderArgs) -> ExtenderFilterResult:
        names = args.candidate_names()
        if not self.manages(args.pod):
            return ExtenderFilterResult.answer(names)
        distrusted = self._distrusted(args.pod)
        if distrusted is not None:
            self.metrics.filtered_nodes.labels("unresolvable").inc(len(names))
            return distrusted.answer(names)
        # One decision at a time against binds choosing devices: a node offered alone is held
        # for its pod (below) before another pod's filter or bind can take the same room.
        with self._claiming:
            # A pod asked again (kube-scheduler gave up its last attempt) gives back its hold.
            self.cache.forget(args.pod)
            return self._filter(args, names)

    def _filter(self, args: ExtenderArgs, names: list[str]) -> ExtenderFilterResult:
        top_k = self.settings.filter_top_k
        planned = planned_node_of(args.pod)
        if planned is not None and planned in names:
            # The gang admission placed the whole gang together: its node first, alone.
            _, choice = self._decide(args, "filter", [planned], 1)
            if choice.ranking:
                self._decisions.remember(args.pod, choice)
                self._hold(args.pod, choice, planned)
                return ExtenderFilterResult.answer([planned])
        keep = (top_k or len(names)) + self.settings.runners_up
        # Full results for the nodes offered; the runners-up are named with their scores.
        # Every node's verdict, but exact scores only where they can reach the offered nodes
        # and their runners-up (all of them when every feasible node is offered).
        _, choice = self._decide(args, "filter", names, keep, top_k or None, complete=not top_k)
        self._decisions.remember(args.pod, choice)
        resolvable, unresolvable = choice.failed_counts()
        self.metrics.filtered_nodes.labels("resolvable").inc(resolvable + len(choice.unknown))
        self.metrics.filtered_nodes.labels("unresolvable").inc(unresolvable)
        offered = choice.ranking[:top_k] if top_k else choice.feasible_names()
        if offered:
            if len(offered) == 1:
                self._hold(args.pod, choice, offered[0])
            # kube-scheduler reads the failed nodes only when no node is left (for the pod's
            # FitError and for preemption): with a node offered they would be thousands of
            # entries, built, sent and decoded for nothing.
            return ExtenderFilterResult.answer(list(offered))
        self.recorder.unschedulable(args.pod, explain.unschedulable_message(choice))
        failed = dict.fromkeys(choice.unknown, "node not in the extender's cache yet")
        # The node-agnostic categories let kube-scheduler group identical reasons.
        failed.update(choice.failed)
        return ExtenderFilterResult.answer([], failed, choice.unresolvable)

    def _hold(self, pod: Mapping[str, Any], choice: Choice, node: str) -> None:
        """Offered one node, kube-scheduler binds the pod there unless it gives the pod up:
        count the pod on it now, with the devices it would get, so that the filters of the
        pods behind it (asked before its bind arrives) do not pick the same room. The bind
        takes the hold over; a pod given up releases it when asked again, or it expires."""
        result = next((r for r in choice.ranked if r.node == node), None)
        devices = result.allocation if result is not None else ()
        self.cache.assume(pod, node, devices or None, ttl=HOLD_TTL_SECONDS)

    def prioritize(self, args: ExtenderArgs) -> list[HostPriority]:
        names = args.candidate_names()
        if not self.manages(args.pod) or refusal(args.pod, self.jobs) is not None:
            return [HostPriority(Host=name, Score=0) for name in names]
        _, choice = self._decide(args, "prioritize", names, 0)
        scores = choice.scores()
        return [HostPriority(Host=name, Score=scores.get(name, 0)) for name in names]

    def _distrusted(self, pod: Mapping[str, Any]) -> _Distrusted | None:
        """A pod whose scheduling annotations no known ComputeJob vouches for is not placed by
        them: unresolvable when no job owns it, an Error (retried with backoff) when it names a
        job the watch has not shown yet."""
        refused = refusal(pod, self.jobs)
        if refused is None:
            return None
        if refused.kind is Distrust.UNKNOWN_OWNER:
            raise BadRequestError(refused.kind.value, refused.message)
        self.recorder.unschedulable(pod, f"cannot place: {refused.message}")
        return _Distrusted()

    def bind(self, args: ExtenderBindingArgs) -> ExtenderBindingResult:
        remembered = self._decisions.get(args.pod_uid)
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
            data = self._data_record(pod, args.node)
            with self._claiming:
                # The filter's hold is taken over: the devices are chosen again on the state as
                # it is now, since pods of other schedulers may have landed there meanwhile.
                self.cache.forget(pod)
                devices = self._devices(pod, args.node)
                # Held before the Binding goes out; given back if the apiserver refuses it.
                self.cache.assume(pod, args.node, devices or None)
        except BindError as error:
            return ExtenderBindingResult(Error=str(error))
        # The device list and the explanation ride on the Binding: the apiserver copies its
        # annotations onto the pod together with the node name (so a device plugin never sees
        # one without the other), and no second write per pod is needed.
        annotations = {GPU_DEVICES_ANNOTATION: format_allocation(devices)} if devices else {}
        annotations.update(
            stack_annotations(pod, args.node, devices, self.cache.node_annotations(args.node))
        )
        explanation = None
        if remembered is not None and self.manages(pod):
            explanation = explain.placement(
                remembered.decision, args.node, self.settings.runners_up, devices, data
            )
            annotations[PLACEMENT_ANNOTATION] = explain.placement_annotation(explanation)
        # A failure without the apiserver's refusal (no answer at all, a 5xx) keeps the devices
        # held: the Binding may have been written; the watch or the assumption's expiry settles it.
        try:
            self.binder.bind(
                args.pod_namespace, args.pod_name, args.pod_uid, args.node, annotations
            )
        except BindError as error:
            if error.refused:
                self.cache.forget(pod)
            return ExtenderBindingResult(Error=str(error))
        self._decisions.forget(args.pod_uid)
        self._count_placement(args.node)
        if explanation is not None:
            self.recorder.placed(pod, explanation)
        return ExtenderBindingResult()

    def _devices(self, pod: Mapping[str, Any], node: str) -> Allocation:
        """The devices the pod gets on `node`, chosen on the state as it is now (other pods may
        have landed there since the filter); BindError when they no longer fit."""
        if not self.manages(pod) or "spec" not in pod:
            return ()
        try:
            demand = parse_pod(pod)
        except DemandError:
            return ()
        if not demand.gpu.wants:
            return ()
        chosen = self.cache.node(node)
        if chosen is None:
            return ()
        choice = self._choose(demand, [node], 1)
        if choice.ranked:
            return choice.ranked[0].allocation
        options = candidates(chosen.devices_used(), demand.gpu)
        if not options:
            reason = choice.failed.get(node) or choice.unresolvable.get(node, "")
            raise BindError(f"devices on {node} were taken meanwhile: {reason}")
        # Something else no longer fits (kube-scheduler has its own view of cpu and memory);
        # the devices still do, at their tightest fit.
        return options[0]

    def _data_record(self, pod: Mapping[str, Any], node: str) -> dict[str, str] | None:
        if not self.manages(pod) or "spec" not in pod:
            return None
        chosen = self.cache.node(node)
        if chosen is None:
            return None
        return data_record(pod, node, chosen.facts, self.config_files.data_policy)

    def _count_placement(self, node: str) -> None:
        chosen = self.cache.node(node)
        if chosen is None:
            return
        accelerator = chosen.facts.accelerator
        kind = accelerator.type.name if accelerator and accelerator.type else "none"
        self.metrics.placements.labels(kind, chosen.facts.tier.value).inc()
