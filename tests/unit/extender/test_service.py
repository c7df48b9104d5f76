"""The verbs, without HTTP: filter outcomes, deterministic narrowing, bind and its bookkeeping."""

from __future__ import annotations

import pytest

from suanli.extender.explain import placement_message
from suanli.extender.ports import BadRequestError
from suanli.extender.wire import ExtenderArgs, ExtenderBindingArgs
from tests.unit.extender.conftest import Harness, pod


def _args(harness: Harness, p: dict, names: list[str] | None = None) -> ExtenderArgs:  # type: ignore[type-arg]
    return ExtenderArgs.model_validate(
        {"Pod": p, "NodeNames": names if names is not None else harness.node_names}
    )


def test_unmanaged_pods_pass_through_untouched(harness: Harness) -> None:
    other = pod("web", scheduler="default-scheduler", demand='{"acceleratorTypes": ["H100"]}')
    result = harness.service.filter(_args(harness, other))
    assert result.node_names == harness.node_names
    assert result.failed_nodes == {}
    assert result.failed_and_unresolvable == {}
    assert {p.score for p in harness.service.prioritize(_args(harness, other))} == {0}


def test_wrong_type_is_unresolvable_and_full_is_resolvable(harness: Harness) -> None:
    result = harness.service.filter(
        _args(harness, pod("t", '{"acceleratorTypes": ["T4"]}', gpus=8))
    )
    # T4 nodes have 4 GPUs: too small even empty, so nothing fits and preemption cannot help.
    assert result.node_names == []
    assert "h100-use1-0" in result.failed_and_unresolvable
    assert harness.recorder.waiting
    assert harness.recorder.waiting[0][1].startswith("0/50 nodes fit")


def test_filter_keeps_only_the_best_node(harness: Harness) -> None:
    result = harness.service.filter(
        _args(harness, pod("a", '{"acceleratorTypes": ["H100", "A100"]}', gpus=8))
    )
    # Four identical H100 nodes: the first by tie rank (a fixed hash of the name).
    assert result.node_names == ["h100-use1-2"]
    # kube-scheduler reads the nodes that fail only when none is left: none are sent.
    assert result.failed_nodes == {}
    assert result.failed_and_unresolvable == {}


def test_when_no_node_is_left_every_node_that_fails_is_named_with_its_reason(
    harness: Harness,
) -> None:
    eight = pod("a", '{"acceleratorTypes": ["H100", "A100"]}', gpus=8)
    result = harness.service.filter(_args(harness, eight, ["t4-usw2-0", "cpu-use1-0"]))
    assert result.node_names == []
    assert set(result.failed_and_unresolvable) == {"t4-usw2-0", "cpu-use1-0"}
    assert all(result.failed_and_unresolvable.values())


def test_node_order_does_not_change_the_choice(harness: Harness) -> None:
    p = pod("a", '{"acceleratorTypes": ["L40S"]}', gpus=1)
    forward = harness.service.filter(_args(harness, p))
    backward = harness.service.filter(_args(harness, p, list(reversed(harness.node_names))))
    assert forward.node_names == backward.node_names


def test_prioritize_scores_every_named_node_in_range(harness: Harness) -> None:
    scores = harness.service.prioritize(
        _args(harness, pod("a", '{"acceleratorTypes": ["H100", "A100"]}', gpus=8))
    )
    by_host = {p.host: p.score for p in scores}
    assert set(by_host) == set(harness.node_names)
    assert all(0 <= s <= 10 for s in by_host.values())
    assert by_host["h100-use1-0"] > by_host["a100-use1-0"] > 0
    assert by_host["t4-usw2-0"] == 0


def test_bind_counts_the_pod_at_once_so_the_next_choice_moves_on(harness: Harness) -> None:
    chosen = []
    for index in range(5):
        p = pod(f"w{index}", '{"acceleratorTypes": ["H100", "A100"]}', gpus=8)
        (node,) = harness.service.filter(_args(harness, p)).node_names
        result = harness.service.bind(
            ExtenderBindingArgs.model_validate(
                {
                    "PodName": f"w{index}",
                    "PodNamespace": "team",
                    "PodUID": f"uid-w{index}",
                    "Node": node,
                }
            )
        )
        assert result.error == ""
        chosen.append(node)
    assert chosen[:4] == [f"h100-use1-{i}" for i in (2, 3, 1, 0)]  # by tie rank
    assert chosen[4].startswith("a100-")
    assert [b[3] for b in harness.binder.bound] == chosen
    name, explanation = harness.recorder.placements[0]
    assert name == "w0"
    assert explanation["node"] == "h100-use1-2"
    assert explanation["runnersUp"][0]["node"] == "h100-use1-3"


def test_refused_bind_is_an_error_and_assumes_nothing(harness: Harness) -> None:
    harness.binder.refuse = True
    p = pod("a", '{"acceleratorTypes": ["H100"]}', gpus=8)
    (node,) = harness.service.filter(_args(harness, p)).node_names
    result = harness.service.bind(
        ExtenderBindingArgs.model_validate(
            {"PodName": "a", "PodNamespace": "team", "PodUID": "uid-a", "Node": node}
        )
    )
    assert "409" in result.error
    assert harness.service.cache.counts()["pods"] == 0


def test_invalid_demand_names_the_field(harness: Harness) -> None:
    with pytest.raises(BadRequestError, match="acceleratorTypo") as caught:
        harness.service.filter(_args(harness, pod("typo", '{"acceleratorTypo": ["H100"]}')))
    assert caught.value.reason == "invalid_demand"
    assert "acceleratorTypo" in harness.recorder.waiting[0][1]


def test_unknown_nodes_fail_alone_but_all_unknown_is_an_error(harness: Harness) -> None:
    p = pod("a")
    result = harness.service.filter(_args(harness, p, ["cpu-use1-0", "ghost-1"]))
    assert result.node_names == ["cpu-use1-0"]
    eight = pod("e", '{"acceleratorTypes": ["H100"]}', gpus=8)
    result = harness.service.filter(_args(harness, eight, ["cpu-use1-0", "ghost-1"]))
    assert result.node_names == []
    assert result.failed_nodes["ghost-1"] == "node not in the extender's cache yet"
    with pytest.raises(BadRequestError, match="none of the 2 nodes"):
        harness.service.filter(_args(harness, p, ["ghost-1", "ghost-2"]))


def _bind(harness: Harness, name: str, node: str) -> str:
    return harness.service.bind(
        ExtenderBindingArgs.model_validate(
            {"PodName": name, "PodNamespace": "team", "PodUID": f"uid-{name}", "Node": node}
        )
    ).error


def test_sensitive_data_lands_where_the_policy_allows_and_says_by_which_rule(
    harness: Harness,
) -> None:
    restricted = pod("r", '{"data": {"classification": "restricted", "residency": ["eu-west-1"]}}')
    result = harness.service.filter(_args(harness, restricted))
    # In eu-west-1 only the MI300X hosts run SEV-SNP.
    assert result.node_names[0].startswith("mi300x-euw1-")
    # The same data asked only where it may not go: each node says by which rule.
    twin = pod("r2", '{"data": {"classification": "restricted", "residency": ["eu-west-1"]}}')
    refused = harness.service.filter(_args(harness, twin, ["cpu-use1-0", "edge-sh-0"]))
    assert refused.failed_and_unresolvable["cpu-use1-0"] == "outside data residency [eu-west-1]"
    assert refused.failed_and_unresolvable["edge-sh-0"] == (
        "restricted data not allowed by data policy default"
    )
    assert _bind(harness, "r", result.node_names[0]) == ""
    record = {
        "classification": "restricted",
        "policy": "default",
        "rule": "cloud-tee",
        "basis": "tier cloud; TEE sev-snp",
    }
    annotation = harness.binder.annotations["r"]["suanli.dev/placement"]
    assert '"data":' in annotation
    _, explanation = harness.recorder.placements[0]
    assert explanation["data"] == record
    assert placement_message(explanation).endswith(
        "; restricted data allowed by data policy default rule cloud-tee (tier cloud; TEE sev-snp)"
    )


def test_public_data_is_not_recorded_and_a_refused_node_is_not_bound(harness: Harness) -> None:
    public = pod("p", '{"data": {"classification": "public"}}')
    (node,) = harness.service.filter(_args(harness, public)).node_names
    assert _bind(harness, "p", node) == ""
    assert "data" not in harness.recorder.placements[0][1]
    # A bind to a node the policy refuses (it changed since the filter) is an error.
    confidential = pod("c", '{"data": {"classification": "confidential"}}')
    harness.service.filter(_args(harness, confidential))
    error = _bind(harness, "c", "t4-usw2-0")
    assert error.startswith("t4-usw2-0: confidential data not allowed (rule cloud-tee")
    assert [b[1] for b in harness.binder.bound] == ["p"]
