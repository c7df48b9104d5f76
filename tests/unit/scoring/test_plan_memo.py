"""Plans shared between node states that fragmentation cannot tell apart are the plans each
state would get on its own."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import (
    NodeSnapshot,
    NodeState,
    NodeUsage,
    Resources,
    Shape,
    Workload,
    fragmentation,
    node_facts,
)
from suanli.scoring.device_plan import Plan, PlanKey, plan
from suanli.scoring.devices import GpuRequest
from suanli.scoring.fragmentation import FragmentationMemo, remembered

from .helpers import default_catalog, gpu_node

GIB = 2**30
_SHAPES = st.builds(
    Shape,
    st.sampled_from([0, 1, 2]),
    st.sampled_from([0, 250, 500]),
    st.sampled_from([0, 1000, 4000, 16_000]),
    st.sampled_from([0, GIB, 16 * GIB]),
    st.sampled_from(["", "nvidia.com/gpu"]),
    st.sampled_from([(), ("H100",), ("T4",)]),
)
# (cpu used, memory used, pods) of one node's usage
_USAGE = st.tuples(
    st.sampled_from([0, 30_000, 60_000, 63_000, 64_000, 100_000]),
    st.sampled_from([0, 500 * GIB, 1000 * GIB, 1024 * GIB]),
    st.sampled_from([0, 108, 109, 110]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0, 250, 500, 750, 1000]), min_size=1, max_size=8),
    st.lists(_USAGE, min_size=1, max_size=8),
    st.sampled_from([GpuRequest(1, 0), GpuRequest(2, 0), GpuRequest(0, 250), GpuRequest(0, 500)]),
    st.sampled_from([0, 1000, 4000, 16_000]),
    st.sampled_from([0, GIB, 16 * GIB]),
    st.lists(st.tuples(_SHAPES, st.integers(1, 9)), min_size=1, max_size=12),
)
def test_a_shared_plan_is_the_node_s_own(
    used: list[int],
    usages: list[tuple[int, int, int]],
    request: GpuRequest,
    cpu: int,
    memory: int,
    counts: list[tuple[Shape, int]],
) -> None:
    facts = node_facts(gpu_node("g", "NVIDIA-H100-80GB-HBM3", count=len(used)), default_catalog())
    workload = Workload.of(counts)
    plans: dict[PlanKey, Plan | None] = {}
    for cpu_used, memory_used, pods in usages:
        requested = Resources({"cpu": cpu_used, "memory": memory_used})
        node = NodeSnapshot(facts, NodeUsage(requested, pods, tuple(used)))
        shared = plan(node, request, cpu, memory, workload, memo={}, plans=plans)
        own = plan(node, request, cpu, memory, workload)
        assert shared == own


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0, 250, 500, 750, 1000]), min_size=1, max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from([-1000, 0, 999, 1000, 4000, 16_000, 64_000]),
            st.sampled_from([0, GIB - 1, GIB, 16 * GIB, 64 * GIB]),
            st.sampled_from([-1, 0, 1, 2, 110]),
        ),
        min_size=1,
        max_size=10,
    ),
    st.sampled_from([("nvidia.com/gpu", "H100"), ("nvidia.com/gpu", "T4"), ("amd.com/gpu", None)]),
    st.lists(st.tuples(_SHAPES, st.integers(1, 9)), min_size=1, max_size=12),
)
def test_a_shared_fragmentation_is_the_state_s_own(
    free: list[int],
    rest: list[tuple[int, int, int]],
    device: tuple[str, str | None],
    counts: list[tuple[Shape, int]],
) -> None:
    workload = Workload.of(counts)
    memo: FragmentationMemo = {}
    for cpu, memory, pods in rest:
        state = NodeState(tuple(free), cpu, memory, pods, *device)
        assert remembered(state, workload, memo) == fragmentation(state, workload)
