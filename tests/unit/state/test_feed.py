"""The feed: watch events into state deltas, usage per node, assumed pods, catalog reloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.fleet import node_manifests, parse_fleet
from suanli.state import ClusterFeed

_FLEET = parse_fleet(
    {
        "pools": [
            {
                "name": "gpu",
                "count": 2,
                "gpu": {"product": "NVIDIA-L40S", "count": 4, "memoryMiB": 46068},
            }
        ]
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cache(clock: Clock | None = None) -> ClusterFeed:
    files = ScoringConfigFiles(None, None)
    cache = ClusterFeed(lambda: files.catalog, clock or Clock())
    cache.replace_nodes(list(node_manifests(_FLEET)))
    return cache


def _pod(
    name: str, node: str | None = None, phase: str = "Running", gpus: int = 1
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]
    }
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": {"phase": phase}}


def _gpus_used(cache: ClusterFeed, node: str) -> int:
    snapshot_node = cache.snapshot().node(node)
    assert snapshot_node is not None
    return snapshot_node.used("nvidia.com/gpu")


def test_usage_follows_pod_events() -> None:
    cache = _cache()
    cache.apply_pod("ADDED", _pod("a", "gpu-0", gpus=2))
    cache.apply_pod("ADDED", _pod("b", "gpu-0", gpus=1))
    assert _gpus_used(cache, "gpu-0") == 3
    cache.apply_pod("MODIFIED", _pod("a", "gpu-0", phase="Succeeded", gpus=2))
    assert _gpus_used(cache, "gpu-0") == 1
    cache.apply_pod("DELETED", _pod("b", "gpu-0"))
    assert _gpus_used(cache, "gpu-0") == 0


def test_a_pod_event_changes_only_its_node() -> None:
    cache = _cache()
    state = cache.state
    before = {name: state.node_snapshot(name) for name in ("gpu-0", "gpu-1")}
    # Equal nodes with equal usage share one usage state: a decision judges them once.
    assert state.nodes["gpu-0"].state == state.nodes["gpu-1"].state
    cache.apply_pod("ADDED", _pod("a", "gpu-1"))
    assert state.node_snapshot("gpu-0") is before["gpu-0"]
    assert state.node_snapshot("gpu-1") is not before["gpu-1"]
    assert state.nodes["gpu-0"].state != state.nodes["gpu-1"].state
    cache.apply_pod("DELETED", _pod("a", "gpu-1"))
    assert state.nodes["gpu-0"].state == state.nodes["gpu-1"].state


def test_assumed_pod_survives_stale_events_and_relists_then_expires() -> None:
    clock = Clock()
    cache = _cache(clock)
    cache.assume(_pod("a", gpus=4), "gpu-0")
    assert _gpus_used(cache, "gpu-0") == 4
    cache.apply_pod("MODIFIED", _pod("a", None, phase="Pending", gpus=4))  # older than the binding
    assert _gpus_used(cache, "gpu-0") == 4
    cache.replace_pods([])  # a relist that raced the binding
    assert _gpus_used(cache, "gpu-0") == 4
    clock.now = 120.0
    assert _gpus_used(cache, "gpu-0") == 0


def test_watch_confirmation_ends_the_assumption() -> None:
    clock = Clock()
    cache = _cache(clock)
    cache.assume(_pod("a", gpus=4), "gpu-0")
    cache.apply_pod("MODIFIED", _pod("a", "gpu-0", gpus=4))
    clock.now = 120.0
    assert _gpus_used(cache, "gpu-0") == 4
    assert cache.counts() == {"nodes": 2, "pods": 1, "assumed": 0, "reserved": 0}


def test_node_with_unreadable_capacity_is_left_out_with_the_reason() -> None:
    cache = _cache()
    broken = next(iter(node_manifests(_FLEET)))
    broken["metadata"]["name"] = "broken"
    broken["status"]["allocatable"]["cpu"] = "lots"
    cache.apply_node("ADDED", broken)
    assert cache.snapshot().node("broken") is None
    assert "broken" in cache.bad_nodes


def test_catalog_edit_takes_effect_without_restart(tmp_path: Path) -> None:
    builtin = ScoringConfigFiles(None, None)
    catalog = tmp_path / "catalog.yaml"
    original = (Path(__file__).parents[3] / "operator/suanli/data/catalog.yaml").read_text()
    catalog.write_text(original)
    files = ScoringConfigFiles(catalog, None)
    assert files.catalog.get("L40S") is not None
    assert builtin.refresh() is False
    catalog.write_text(original.replace("name: L40S", "name: L40S-renamed"))
    assert files.refresh() is True
    assert files.catalog.get("L40S-renamed") is not None
    catalog.write_text("types: [")  # a broken edit keeps the last good catalog
    assert files.refresh() is False
    assert files.catalog.get("L40S-renamed") is not None
    assert "catalog" in files.last_error


def test_listeners_hear_when_capacity_is_freed() -> None:
    cache = _cache()
    freed: list[str] = []
    cache.listeners.append(freed.append)
    cache.apply_pod("ADDED", _pod("a", "gpu-0"))
    assert freed == []
    cache.apply_pod("MODIFIED", _pod("a", "gpu-0", phase="Succeeded"))
    assert freed == ["gpu-0"]
    cache.apply_pod("ADDED", _pod("b", "gpu-1"))
    cache.apply_pod("DELETED", _pod("b", "gpu-1"))
    assert freed == ["gpu-0", "gpu-1"]


def test_a_node_heartbeat_is_no_news_but_a_new_node_is() -> None:
    cache = _cache()
    freed: list[str] = []
    cache.listeners.append(freed.append)
    node = next(n for n in node_manifests(_FLEET) if n["metadata"]["name"] == "gpu-0")
    beat = {**node, "status": {**node["status"], "conditions": [{"type": "Ready"}]}}
    cache.apply_node("MODIFIED", beat)
    assert freed == []
    grown = {**node, "metadata": {**node["metadata"], "name": "gpu-9"}}
    cache.apply_node("ADDED", grown)
    assert freed == ["gpu-9"]
