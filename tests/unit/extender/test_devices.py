"""Device shares through the extender: devices chosen at bind, written on the Binding, read
back by the cache; the workload the cache learns from the pods placed."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.extender import explain
from suanli.extender.wire import ExtenderArgs, ExtenderBindingArgs
from suanli.fleet import node_manifests, parse_fleet
from suanli.keys import GPU_DEVICES_ANNOTATION, GPU_MILLI_ANNOTATION, PLACEMENT_ANNOTATION
from suanli.state import ClusterFeed
from tests.unit.extender.conftest import Harness, pod

L40S = parse_fleet(
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


def _share(name: str, milli: int, demand: str | None = None) -> dict[str, Any]:
    raw = pod(name, demand)
    raw["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(milli)
    return raw


def _place(harness: Harness, raw: dict[str, Any]) -> tuple[str, str]:
    args = ExtenderArgs.model_validate({"Pod": raw, "NodeNames": harness.node_names})
    (node,) = harness.service.filter(args).node_names
    name = raw["metadata"]["name"]
    result = harness.service.bind(
        ExtenderBindingArgs.model_validate(
            {"PodName": name, "PodNamespace": "team", "PodUID": f"uid-{name}", "Node": node}
        )
    )
    assert result.error == ""
    return node, harness.binder.annotations[name].get(GPU_DEVICES_ANNOTATION, "")


def test_shares_are_packed_onto_one_device_and_recorded(harness: Harness) -> None:
    typed = '{"acceleratorTypes": ["L40S"]}'
    placed = [_place(harness, _share(f"s{i}", 250, typed)) for i in range(4)]
    nodes = {node for node, _ in placed}
    assert len(nodes) == 1
    assert [devices for _, devices in placed] == ["0:250"] * 4
    whole = _place(harness, pod("w", typed, gpus=2))
    assert whole == (placed[0][0], "1,2")
    snapshot = harness.service.cache.snapshot().node(placed[0][0])
    assert snapshot is not None
    assert snapshot.devices_used() == (1000, 1000, 1000, 0)
    name, explanation = harness.recorder.placements[0]
    assert (name, explanation["devices"]) == ("s0", "0:250")
    assert "(devices 0:250)" in explain.placement_message(explanation)


def test_cpu_pods_get_no_device_list(harness: Harness) -> None:
    node, devices = _place(harness, pod("c"))
    assert devices == ""
    # Only the explanation rides on the Binding, no device list.
    annotations = harness.binder.annotations["c"]
    assert set(annotations) == {PLACEMENT_ANNOTATION}
    assert json.loads(annotations[PLACEMENT_ANNOTATION])["node"] == node


def test_bind_refuses_devices_taken_meanwhile(harness: Harness) -> None:
    typed = '{"acceleratorTypes": ["L40S"]}'
    raw = _share("late", 800, typed)
    args = ExtenderArgs.model_validate({"Pod": raw, "NodeNames": harness.node_names})
    (node,) = harness.service.filter(args).node_names
    # Between filter and bind, other pods fill every device of that node.
    for index in range(4):
        filler = pod(f"f{index}", gpus=1)
        filler["spec"]["nodeName"] = node
        harness.service.cache.apply_pod("ADDED", filler)
    result = harness.service.bind(
        ExtenderBindingArgs.model_validate(
            {"PodName": "late", "PodNamespace": "team", "PodUID": "uid-late", "Node": node}
        )
    )
    assert "were taken meanwhile" in result.error
    assert harness.binder.bound == []


def _filter_then_bind_together(harness: Harness, names: list[str], demand: str, gpus: int) -> str:
    """Filter each pod, then bind them all at once from threads, as kube-scheduler's binding
    cycles and the extender's bind pool do; the binder is slow, so the binds overlap."""
    node = ""
    for name in names:
        args = ExtenderArgs.model_validate(
            {"Pod": pod(name, demand, gpus=gpus), "NodeNames": [node or "h100-use1-0"]}
        )
        (node,) = harness.service.filter(args).node_names
    inner = harness.binder.bind

    def slow_bind(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)
        inner(*args, **kwargs)

    harness.binder.bind = slow_bind  # type: ignore[method-assign]
    requests = [
        ExtenderBindingArgs.model_validate(
            {"PodName": n, "PodNamespace": "team", "PodUID": f"uid-{n}", "Node": node}
        )
        for n in names
    ]
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(harness.service.bind, requests))
    assert [r.error for r in results] == [""] * len(names)
    return node


def test_pods_bound_to_one_node_at_once_get_distinct_devices(harness: Harness) -> None:
    names = ["g0", "g1"]
    node = _filter_then_bind_together(harness, names, '{"acceleratorTypes": ["H100"]}', gpus=4)
    given = [set(harness.binder.annotations[n][GPU_DEVICES_ANNOTATION].split(",")) for n in names]
    assert given[0].isdisjoint(given[1]), given
    snapshot = harness.service.cache.snapshot().node(node)
    assert snapshot is not None
    assert snapshot.devices_used() == (1000,) * 8


def test_a_refused_bind_gives_its_devices_back(harness: Harness) -> None:
    raw = pod("r", '{"acceleratorTypes": ["H100"]}', gpus=8)
    args = ExtenderArgs.model_validate({"Pod": raw, "NodeNames": ["h100-use1-0"]})
    (node,) = harness.service.filter(args).node_names
    harness.binder.refuse = True
    bind = ExtenderBindingArgs.model_validate(
        {"PodName": "r", "PodNamespace": "team", "PodUID": "uid-r", "Node": node}
    )
    assert "409" in harness.service.bind(bind).error
    snapshot = harness.service.cache.snapshot().node(node)
    assert snapshot is not None
    assert snapshot.devices_used() == (0,) * 8
    harness.binder.refuse = False
    assert harness.service.bind(bind).error == ""  # the devices are free for its retry


def _cache() -> ClusterFeed:
    files = ScoringConfigFiles(None, None)
    cache = ClusterFeed(lambda: files.catalog)
    cache.replace_nodes(list(node_manifests(L40S)))
    return cache


def _bound(
    name: str, node: str, milli: int = 0, devices: str | None = None, gpus: int = 0
) -> dict[str, Any]:
    raw = pod(name, gpus=gpus)
    if milli:
        raw["metadata"]["annotations"][GPU_MILLI_ANNOTATION] = str(milli)
    if devices is not None:
        raw["metadata"]["annotations"][GPU_DEVICES_ANNOTATION] = devices
    raw["spec"]["nodeName"] = node
    raw["status"] = {"phase": "Running"}
    return raw


def _devices(cache: ClusterFeed, node: str) -> tuple[int, ...]:
    found = cache.snapshot().node(node)
    assert found is not None
    return found.devices_used()


def test_cache_reads_device_lists_back() -> None:
    cache = _cache()
    cache.replace_pods([_bound("a", "gpu-0", 300, "2:300"), _bound("b", "gpu-0", gpus=1)])
    assert _devices(cache, "gpu-0") == (1000, 0, 300, 0)
    cache.apply_pod("ADDED", _bound("c", "gpu-0", 500))  # no list (yet): best fit
    assert _devices(cache, "gpu-0") == (1000, 0, 800, 0)
    cache.apply_pod("MODIFIED", _bound("c", "gpu-0", 500, "3:500"))
    assert _devices(cache, "gpu-0") == (1000, 0, 300, 500)
    cache.apply_pod("DELETED", _bound("a", "gpu-0", 300, "2:300"))
    assert _devices(cache, "gpu-0") == (1000, 0, 0, 500)
    assert _devices(cache, "gpu-1") == (0, 0, 0, 0)


def test_assumed_devices_count_until_the_watch_catches_up() -> None:
    cache = _cache()
    unbound = _bound("a", "gpu-1", 250)
    del unbound["spec"]["nodeName"]
    cache.assume(unbound, "gpu-1", ((3, 250),))
    assert _devices(cache, "gpu-1") == (0, 0, 0, 250)


def test_the_workload_follows_the_placed_pods() -> None:
    cache = _cache()
    assert not cache.workload()
    cache.replace_pods(
        [_bound("a", "gpu-0", 300), _bound("b", "gpu-0", 300), _bound("c", "gpu-1", gpus=2)]
    )
    workload = cache.workload()
    assert sorted((s.milli, s.whole) for s in workload.shapes) == [(0, 2), (300, 0)]
    assert dict(zip((s.milli for s in workload.shapes), workload.weights, strict=True))[300] > 0.6
    assert cache.state.idle_by_type() == {"L40S": 8000 - 600 - 2000}
    cache.apply_pod("DELETED", _bound("c", "gpu-1", gpus=2))
    cache.apply_pod("DELETED", _bound("a", "gpu-0", 300))
    cache.apply_pod("DELETED", _bound("b", "gpu-0", 300))
    assert not cache.workload()
