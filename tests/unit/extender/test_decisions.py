"""The filter's decisions kept for the bind: per pod UID, the newest DECISION_MEMORY."""

from __future__ import annotations

from typing import Any

from suanli.extender.decisions import DECISION_MEMORY, Decisions


def _pod(uid: str) -> dict[str, Any]:
    return {"metadata": {"name": f"p-{uid}", "namespace": "team", "uid": uid}}


def test_a_decision_is_kept_until_forgotten() -> None:
    decisions = Decisions()
    decisions.remember(_pod("a"), None)
    kept = decisions.get("a")
    assert kept is not None
    assert kept.pod["metadata"]["name"] == "p-a"
    decisions.forget("a")
    assert decisions.get("a") is None


def test_a_pod_without_uid_is_not_kept() -> None:
    decisions = Decisions()
    decisions.remember({"metadata": {"name": "no-uid"}}, None)
    assert len(decisions) == 0


def test_the_oldest_are_dropped_past_the_limit_and_a_pod_asked_again_is_newest() -> None:
    decisions = Decisions()
    for index in range(DECISION_MEMORY):
        decisions.remember(_pod(str(index)), None)
    decisions.remember(_pod("0"), None)  # asked again: now the newest
    decisions.remember(_pod("new"), None)
    assert len(decisions) == DECISION_MEMORY
    assert decisions.get("0") is not None
    assert decisions.get("1") is None  # the oldest left
    assert decisions.get("new") is not None
