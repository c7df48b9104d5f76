"""The fast decision equals the reference `evaluate` over every candidate node.

Random fleets (several nodes per pool, so usage states repeat and groups form, some nodes
relabelled with trust levels and TEEs so that trust splits classes), random occupancies (whole devices, shares, cpu pods, pods of the same job), random demands (with
hard requirements, data classes and residency, preferences, shares and same-domain gangs), with and without a workload,
judged in sequence on one state so that memos carried between decisions are exercised too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.keys import GPU_MILLI_ANNOTATION
from suanli.scoring import (
    NO_WORKLOAD,
    Decision,
    PodDemand,
    evaluate,
    node_facts,
    parse_data_policy,
    parse_pod,
    with_pressure,
)
from suanli.scoring.sharing import ShareStack
from suanli.state import Choice, ClusterFeed
from tests.unit.scoring.helpers import default_catalog, default_latency, fleet_nodes, pod
from tests.unit.scoring.test_properties import RESOURCES, specs

CATALOG = default_catalog()
LATENCY = default_latency()
# Three nodes of each pool at most: enough for repeated usage states, quick to judge.
_RAW = [n for n in fleet_nodes() if n["metadata"]["name"].rsplit("-", 1)[1] in {"0", "1", "2"}]
_NAMES = [n["metadata"]["name"] for n in _RAW]
_FACTS = {n["metadata"]["name"]: node_facts(n, CATALOG) for n in _RAW}
# The built-in rules, and rules by region and tier, so that every condition is exercised.
POLICY = parse_data_policy(
    {
        "name": "property",
        "classes": {
            "public": [{"name": "anywhere"}],
            "internal": [{"name": "not-devices", "tiers": ["cloud", "edge"]}],
            "confidential": [
                {"name": "cloud-tee", "tiers": ["cloud"], "tees": ["tdx", "sev-snp"]},
                {"name": "cloud-trusted", "tiers": ["cloud"], "minTrustLevel": 3},
            ],
            "restricted": [
                {"name": "cloud-tee", "tiers": ["cloud"], "tees": ["tdx", "sev-snp"]},
                {"name": "cn-trusted", "regions": ["cn-north-1"], "minTrustLevel": 4},
            ],
        },
    }
)
_STACK_REQUESTS: dict[ShareStack, dict[str, str]] = {
    ShareStack.HAMI: {
        "nvidia.com/gpu": "1",
        "nvidia.com/gpumem": "4000",
        "nvidia.com/gpucores": "30",
    },
    ShareStack.TIME_SLICING: {"nvidia.com/gpu.shared": "1"},
    ShareStack.SUANLI: {},
}
_TRUST_LABELS = {
    "suanli.dev/trust-level": ["0", "2", "3", "4", "high"],
    "feature.node.kubernetes.io/cpu-security.tdx.enabled": ["true", "false"],
    "feature.node.kubernetes.io/cpu-security.sev.snp.enabled": ["true"],
    "feature.node.kubernetes.io/cpu-security.sev.enabled": ["true"],
}


@st.composite
def relabelled(draw: st.DrawFn) -> dict[str, dict[str, str]]:
    """Trust labels for some nodes: nodes of one pool then differ in trust alone."""
    labels: dict[str, dict[str, str]] = {}
    for name in draw(st.lists(st.sampled_from(_NAMES), max_size=12, unique=True)):
        keys = draw(st.lists(st.sampled_from(sorted(_TRUST_LABELS)), min_size=1, unique=True))
        labels[name] = {key: draw(st.sampled_from(_TRUST_LABELS[key])) for key in keys}
    return labels


@st.composite
def data_of(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "classification": draw(
            st.sampled_from(["public", "internal", "confidential", "restricted"])
        )
    }
    if draw(st.booleans()):
        places = ["us-east-1", "eu-west-1", "cn-north-1", "cn-north-1a", "cn-east-1-sh"]
        data["residency"] = draw(st.lists(st.sampled_from(places), min_size=1, unique=True))
    return data


@dataclass(frozen=True)
class Occupant:
    node: str
    requests: dict[str, str]
    milli: int  # a device share, 0 for none
    job: str | None


@st.composite
def occupants(draw: st.DrawFn) -> list[Occupant]:
    found: list[Occupant] = []
    for name in draw(st.lists(st.sampled_from(_NAMES), max_size=40)):
        accelerator = _FACTS[name].accelerator
        requests: dict[str, str] = {"cpu": draw(st.sampled_from(["1", "4", "16"]))}
        milli = 0
        if accelerator is not None and accelerator.count and draw(st.booleans()):
            if draw(st.booleans()):
                requests[accelerator.resource] = str(draw(st.integers(1, accelerator.count)))
            else:
                milli = draw(st.sampled_from([250, 500, 300]))
                if _FACTS[name].share_stack is ShareStack.HAMI:
                    requests.update(_STACK_REQUESTS[ShareStack.HAMI])
        job = draw(st.sampled_from([None, None, "gang"]))
        found.append(Occupant(name, requests, milli, job))
    return found


def _pod_of(index: int, occupant: Occupant) -> dict[str, Any]:
    body = pod(occupant.requests, name=f"o{index}", job=occupant.job, node_name=occupant.node)
    if occupant.milli:
        body["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(occupant.milli)
    body["status"] = {"phase": "Running"}
    return body


@st.composite
def demands(draw: st.DrawFn) -> PodDemand:
    requests: dict[str, str] = {}
    if draw(st.booleans()):
        requests["cpu"] = draw(st.sampled_from(["100m", "1", "4", "64"]))
    if draw(st.booleans()):
        requests["memory"] = draw(st.sampled_from(["128Mi", "8Gi", "256Gi"]))
    share = draw(st.integers(0, 3)) == 0
    if share:
        # The requests of a sharing stack (or none): the filter matches them to node stacks.
        requests.update(_STACK_REQUESTS[draw(st.sampled_from(list(ShareStack)))])
    if not share and draw(st.booleans()):
        requests[draw(st.sampled_from(RESOURCES[2:]))] = draw(st.sampled_from(["1", "2", "8"]))
    spec = draw(specs())
    if draw(st.integers(0, 2)) == 0:
        spec["data"] = draw(data_of())
    body = pod(requests, spec, name="new", job=draw(st.sampled_from([None, "gang"])))
    if share:
        body["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(
            draw(st.sampled_from([100, 250, 700]))
        )
    return parse_pod(body)


def _feed(occupied: list[Occupant], labels: dict[str, dict[str, str]]) -> ClusterFeed:
    feed = ClusterFeed(lambda: CATALOG)
    raw = copy.deepcopy(_RAW)
    for body in raw:
        body["metadata"]["labels"].update(labels.get(body["metadata"]["name"], {}))
    feed.replace_nodes(raw)
    feed.replace_pods([_pod_of(i, o) for i, o in enumerate(occupied)])
    return feed


def _assert_same(choice: Choice, reference: Decision, names: list[str], keep: int) -> None:
    """The best `keep` as the reference has them; the verdict of every node unless the decision
    judged only what could be best; every score and the whole ranking too when complete."""
    assert choice.ranking == reference.ranking[:keep]
    assert choice.top == tuple((n, reference.result(n).score) for n in reference.ranking[:keep])
    assert choice.ranked == tuple(reference.result(n) for n in reference.ranking[:keep])
    if choice.feasible is None and not choice.ranked:
        # Nothing fits and no reasons were asked for.
        assert not reference.ranking
        with pytest.raises(ValueError, match="judged only what could be best"):
            _ = choice.unschedulable_reason
        return
    assert choice.unschedulable_reason == reference.unschedulable_reason
    if choice.feasible is None:
        # Only when something fits: otherwise the reasons are wanted, and judged for all.
        assert reference.ranking
        with pytest.raises(ValueError, match="judged only what could be best"):
            _ = choice.failed
    else:
        verdicts = {r.node: r.verdict for r in reference.results}
        failed = {
            n: v.category or v.reason
            for n, v in verdicts.items()
            if v.outcome.value == "resolvable"
        }
        unresolvable = {
            n: v.category or v.reason
            for n, v in verdicts.items()
            if v.outcome.value == "unresolvable"
        }
        assert choice.failed == failed
        assert choice.unresolvable == unresolvable
        assert choice.candidates == len(set(names))
        assert choice.feasible == len(reference.ranking)
    if choice.complete:
        assert choice.feasible_names() == reference.ranking
        assert choice.scores() == {n: reference.result(n).score for n in reference.ranking}
    else:
        with pytest.raises(ValueError, match="scored only its best"):
            choice.scores()


_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(
    occupants(),
    relabelled(),
    st.lists(demands(), min_size=1, max_size=4),
    st.booleans(),
    st.integers(1, 5),
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_fast_decisions_equal_the_reference(
    occupied: list[Occupant],
    labels: dict[str, dict[str, str]],
    asks: list[PodDemand],
    with_workload: bool,
    keep: int,
    complete: bool,
    explain: bool,
    data: Any,
) -> None:
    feed = _feed(occupied, labels)
    for step, demand in enumerate(asks):
        # None: every node of the state (the operator's and the simulator's question).
        asked = data.draw(
            st.one_of(
                st.none(),
                st.just(_NAMES),
                st.lists(st.sampled_from(_NAMES), min_size=1, unique=True),
            )
        )
        names = _NAMES if asked is None else asked
        workload = feed.workload() if with_workload else NO_WORKLOAD
        snapshot = feed.snapshot()
        peers = snapshot.peers_of(demand)
        reference = evaluate(
            demand,
            snapshot.select(names),
            CATALOG,
            LATENCY,
            peers=peers,
            workload=workload,
            data_policy=POLICY,
        )
        choice = feed.decider.decide(
            demand,
            asked,
            catalog=CATALOG,
            latency=LATENCY,
            data_policy=POLICY,
            workload=workload,
            keep=keep,
            complete=complete,
            explain_failure=explain,
        )
        _assert_same(choice, reference, names, keep)
        # Sometimes a pod leaves: room comes back (a pod kind that fit nowhere may fit now).
        if occupied and data.draw(st.booleans()):
            leaving = data.draw(st.integers(0, len(occupied) - 1))
            feed.apply_pod("DELETED", _pod_of(leaving, occupied[leaving]))
        # The pod lands where it was sent: the next decision sees a changed state.
        if choice.ranked:
            best = choice.ranked[0]
            body = pod(
                {k: str(v) for k, v in demand.requests.items() if k != "cpu"},
                name=f"placed-{step}",
                job="gang" if demand.job else None,
                node_name=best.node,
            )
            feed.apply_pod("ADDED", body)


def test_workload_with_pressure_is_the_state_s() -> None:
    feed = _feed([Occupant(_NAMES[0], {"cpu": "1"}, 0, None)], {})
    expected = with_pressure(feed.state.histogram.workload(), feed.state.idle_by_type())
    assert feed.workload() == expected
