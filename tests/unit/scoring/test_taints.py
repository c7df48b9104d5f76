"""Taints and tolerations match as kube-scheduler's TaintToleration plugin matches them."""

from __future__ import annotations

import pytest

from suanli.scoring.taints import Taint, Toleration, node_taints, pod_tolerations, untolerated

EDGE = Taint("node-role.kubernetes.io/edge", "", "NoSchedule")
POOL = Taint("apps.openyurt.io/pool", "beijing", "NoExecute")


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        (Toleration("node-role.kubernetes.io/edge", "Exists"), EDGE, True),
        (Toleration("node-role.kubernetes.io/edge", "Exists", effect="NoSchedule"), EDGE, True),
        (Toleration("node-role.kubernetes.io/edge", "Exists", effect="NoExecute"), EDGE, False),
        (Toleration("node-role.kubernetes.io/edge"), EDGE, True),  # Equal "" == ""
        (Toleration("other", "Exists"), EDGE, False),
        (Toleration("", "Exists"), POOL, True),  # an empty key with Exists tolerates all
        (Toleration("", "Equal"), EDGE, False),  # ... but not with Equal
        (Toleration("apps.openyurt.io/pool", "Equal", "beijing"), POOL, True),
        (Toleration("apps.openyurt.io/pool", "Equal", "shanghai"), POOL, False),
    ],
)
def test_tolerates(toleration: Toleration, taint: Taint, tolerated: bool) -> None:
    assert toleration.tolerates(taint) is tolerated


def test_only_repelling_taints_are_facts() -> None:
    spec = {
        "taints": [
            {"key": "b", "effect": "NoExecute"},
            {"key": "soft", "effect": "PreferNoSchedule"},  # a preference, not a filter
            {"key": "a", "value": "x", "effect": "NoSchedule"},
        ]
    }
    assert node_taints(spec) == (Taint("a", "x", "NoSchedule"), Taint("b", "", "NoExecute"))
    assert node_taints({}) == ()


def test_untolerated_names_the_first_taint_left() -> None:
    tolerations = pod_tolerations(
        {"tolerations": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}]}
    )
    assert untolerated((EDGE,), tolerations) is None
    assert untolerated((EDGE, POOL), tolerations) == POOL
    assert str(POOL) == "apps.openyurt.io/pool=beijing:NoExecute"
    assert untolerated((), ()) is None
