"""Gang admission plans on the demo fleet with the extender's own scoring."""

from __future__ import annotations

from typing import Any

from suanli.configfiles import ScoringConfigFiles
from suanli.controller.admission import plan_gang
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.fleet import default_fleet, node_manifests
from suanli.keys import GPU_MILLI_ANNOTATION
from suanli.scoring import Resources, parse_pod
from suanli.scoring.snapshot import PlacedPod
from suanli.state import ClusterFeed
from tests.unit.controller.conftest import example

FILES = ScoringConfigFiles(None, None)


def _snapshot(pods: list[dict[str, Any]] | None = None) -> ClusterFeed:
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(node_manifests(default_fleet()))
    feed.replace_pods(pods or [])
    return feed


def _demands(name: str, **spec: Any) -> list[Any]:
    job, meta = example(name, **spec)
    return [
        parse_pod(pod_manifest(job, dict(meta), s, FILES.catalog)) for s in slots(job, meta["name"])
    ]


def _h100_only_demands() -> list[Any]:
    """The training gang's pods, accepting H100 only."""
    task = example("training-gang.yaml")[0].model_dump(
        mode="json", by_alias=True, exclude_none=True
    )["spec"]["tasks"][0]
    return _demands(
        "training-gang.yaml", tasks=[{**task, "accelerators": {"count": 8, "types": ["H100"]}}]
    )


def _blocker(node: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"block-{node}", "namespace": "other"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "8"}}}],
        },
        "status": {"phase": "Running"},
    }


def test_training_gang_fits_on_the_h100s() -> None:
    admission = plan_gang(
        _snapshot(), _demands("training-gang.yaml"), 4, catalog=FILES.catalog, latency=FILES.latency
    )
    assert admission.admitted
    assert sorted(admission.plan.values()) == [f"h100-use1-{i}" for i in range(4)]


def test_gang_is_refused_when_only_three_such_pods_fit() -> None:
    demands = _h100_only_demands()
    snapshot = _snapshot([_blocker("h100-use1-3")])
    admission = plan_gang(snapshot, demands, 4, catalog=FILES.catalog, latency=FILES.latency)
    assert not admission.admitted
    assert len(admission.plan) == 3
    assert "only 3 fit now" in admission.reason


def test_reserved_capacity_of_another_admitted_gang_counts() -> None:
    demands = _demands("training-gang.yaml")
    reserved = [
        PlacedPod(f"other/r{i}", f"h100-use1-{i}", "other/g", Resources({"nvidia.com/gpu": 8}))
        for i in range(4)
    ]
    admission = plan_gang(
        _snapshot(), demands, 4, catalog=FILES.catalog, latency=FILES.latency, reserved=reserved
    )
    assert admission.admitted
    assert all(node.startswith("a100-") for node in admission.plan.values())


def test_mpi_gang_is_planned_within_one_rack() -> None:
    admission = plan_gang(
        _snapshot(), _demands("mpi-hpc.yaml"), 5, catalog=FILES.catalog, latency=FILES.latency
    )
    assert admission.admitted
    snapshot = _snapshot()
    racks = set()
    for node in admission.plan.values():
        facts = snapshot.node(node)
        assert facts is not None
        racks.add(facts.facts.rack)
    assert len(racks) == 1


def test_the_plan_is_a_trial_that_leaves_the_state_as_it_was() -> None:
    feed = _snapshot([_blocker("h100-use1-3")])
    before = feed.snapshot()
    admission = plan_gang(
        feed, _demands("training-gang.yaml"), 4, catalog=FILES.catalog, latency=FILES.latency
    )
    assert admission.admitted
    after = feed.snapshot()
    assert after.nodes == before.nodes
    assert after.pods == before.pods


def test_the_plan_sees_device_shares_as_the_extender_does() -> None:
    # Every H100 node holds a share on each of its devices: no device is idle for whole GPUs.
    shares = []
    for node in range(4):
        for device in range(8):
            pod = {
                "metadata": {
                    "name": f"share-{node}-{device}",
                    "namespace": "other",
                    "annotations": {
                        GPU_MILLI_ANNOTATION: "100",
                        "suanli.dev/gpu-devices": f"{device}:100",
                    },
                },
                "spec": {"nodeName": f"h100-use1-{node}", "containers": [{"name": "c"}]},
                "status": {"phase": "Running"},
            }
            shares.append(pod)
    demands = _h100_only_demands()
    admission = plan_gang(
        _snapshot(shares), demands, 4, catalog=FILES.catalog, latency=FILES.latency
    )
    assert not admission.admitted
    assert "insufficient idle nvidia.com/gpu" in admission.reason
