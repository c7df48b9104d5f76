from __future__ import annotations

import pytest

from suanli.scoring import Catalog, ScoringInputError, Snapshot, parse_pod

from .helpers import gpu_node, node, pod


def test_usage_sums_bound_pods(catalog: Catalog) -> None:
    snapshot = Snapshot.from_objects(
        [gpu_node("g"), node("c")],
        [
            pod({"nvidia.com/gpu": "2", "cpu": "4"}, name="a", node_name="g"),
            pod({"nvidia.com/gpu": "1", "cpu": "1"}, name="b", node_name="g"),
            pod({"nvidia.com/gpu": "4"}, name="done", node_name="g", phase="Succeeded"),
            pod({"nvidia.com/gpu": "4"}, name="failed", node_name="g", phase="Failed"),
            pod({"nvidia.com/gpu": "4"}, name="pending"),  # not bound: holds nothing
            pod({"cpu": "1"}, name="a", node_name="g"),  # same pod listed twice: counts once
            pod({"cpu": "1"}, name="ghost", node_name="gone"),  # node not in the snapshot
        ],
        catalog,
    )
    g = snapshot.node("g")
    assert g is not None
    assert g.usage.pod_count == 2
    assert g.used("nvidia.com/gpu") == 1  # the second listing of "a" replaced the first
    assert g.free("nvidia.com/gpu") == 7
    assert g.free("pods") == 108
    c = snapshot.node("c")
    assert c is not None
    assert c.usage.pod_count == 0
    assert [n.name for n in snapshot.nodes] == ["c", "g"]
    assert snapshot.select(["g", "nope", "c"]) == (g, c)


def test_peers_of(catalog: Catalog) -> None:
    snapshot = Snapshot.from_objects(
        [node("n1"), node("n2"), node("n3")],
        [
            pod(name="w-0", job="mpi", node_name="n1"),
            pod(name="w-1", job="mpi", node_name="n2"),
            pod(name="w-2", job="mpi", node_name="n3", namespace="team-b"),  # another namespace
            pod(name="x", job="other", node_name="n3"),
        ],
        catalog,
    )
    me = parse_pod(pod(name="w-1", job="mpi"))
    assert [f.name for f in snapshot.peers_of(me)] == ["n1"]  # itself excluded
    assert snapshot.peers_of(parse_pod(pod(name="solo"))) == ()


def test_duplicate_node_names_rejected(catalog: Catalog) -> None:
    facts = Snapshot.from_objects([node("n")], [], catalog).nodes[0]
    with pytest.raises(ScoringInputError):
        Snapshot((facts, facts))


def test_bad_pod_quantity_names_the_pod(catalog: Catalog) -> None:
    with pytest.raises(ScoringInputError, match="pod team-a/p"):
        Snapshot.from_objects([node("n")], [pod({"cpu": "?"}, node_name="n")], catalog)
