"""The development trace generator: a heterogeneous fleet and a production-like pod mix."""

from __future__ import annotations

from collections import Counter

from suanli.simulate.generate import FLEET, generate_nodes, generate_pods


def test_fleet_mix() -> None:
    nodes = generate_nodes(1000)
    assert len(nodes) == 1000
    assert len({n.sn for n in nodes}) == 1000
    sizes = Counter(n.gpu for n in nodes)
    assert {0, 2, 4, 8} <= set(sizes)
    assert len({n.model for n in nodes if n.model}) >= 5
    for pool in FLEET:
        share = sum(1 for n in nodes if (n.model, n.gpu) == (pool.model, pool.gpus)) / 1000
        assert abs(share - pool.weight) < 0.002


def test_pod_mix_is_seeded_and_varied() -> None:
    pods = generate_pods(5000, seed=3, constrained=0.2)
    assert pods == generate_pods(5000, seed=3, constrained=0.2)
    assert pods != generate_pods(5000, seed=4, constrained=0.2)
    kinds = Counter(
        "cpu" if p.num_gpu == 0 else "share" if p.is_share else f"{p.num_gpu}gpu" for p in pods
    )
    assert set(kinds) == {"cpu", "share", "1gpu", "2gpu", "4gpu", "8gpu"}
    assert {p.gpu_milli for p in pods if p.is_share} >= {250, 500, 750}
    gpu_pods = [p for p in pods if p.num_gpu]
    constrained = [p for p in gpu_pods if p.gpu_spec]
    assert 0.17 < len(constrained) / len(gpu_pods) < 0.23
    assert all(p.gpu_spec == () for p in pods if p.num_gpu == 0)
    # An 8-GPU pod is only ever constrained to models that come in 8-GPU servers.
    eight = {pool.model for pool in FLEET if pool.gpus >= 8}
    assert all(set(p.gpu_spec) <= eight for p in constrained if p.num_gpu == 8)
