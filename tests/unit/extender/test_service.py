"""The verbs, without HTTP: filter outcomes, deterministic narrowing, bind and its bookkeeping."""

from __future__ import annotations

import pytest

from suanli.extender.service import BadRequestError
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
    assert result.node_names == ["h100-use1-0"]
    assert "t4-usw2-0" in result.failed_and_unresolvable


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
    assert chosen[:4] == [f"h100-use1-{i}" for i in range(4)]
    assert chosen[4].startswith("a100-")
    assert [b[3] for b in harness.binder.bound] == chosen
    name, explanation = harness.recorder.placements[0]
    assert name == "w0"
    assert explanation["node"] == "h100-use1-0"
    assert explanation["runnersUp"][0]["node"] == "h100-use1-1"


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
    assert result.failed_nodes["ghost-1"] == "node not in the extender's cache yet"
    assert result.node_names == ["cpu-use1-0"]
    with pytest.raises(BadRequestError, match="none of the 2 nodes"):
        harness.service.filter(_args(harness, p, ["ghost-1", "ghost-2"]))
