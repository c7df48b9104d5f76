"""Synthetic traces for development, shaped like production GPU clusters.

The fleet mixes several GPU models on 2-, 4- and 8-GPU servers plus a few CPU-only nodes. The
pods mix CPU-only work, shared-GPU pods at the sizes people actually ask for (a tenth, a fifth, a
quarter, a third, half, three quarters of a device), single- and multi-GPU pods, and a share of
pods constrained to specific models (`gpu_spec`), the models drawn in proportion to the devices
of each that can host the pod. Everything is drawn from one seeded generator.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from suanli.simulate.trace import NodeRow, PodRow

_GIB_MIB = 1024


@dataclass(frozen=True, slots=True)
class Pool:
    model: str  # empty for CPU-only nodes
    gpus: int
    cores: int
    memory_gib: int
    weight: float  # share of the fleet's nodes


FLEET: tuple[Pool, ...] = (
    Pool("", 0, 96, 384, 0.06),
    Pool("T4", 2, 32, 128, 0.12),
    Pool("T4", 4, 64, 256, 0.08),
    Pool("A10", 4, 64, 256, 0.12),
    Pool("A10", 8, 96, 512, 0.06),
    Pool("V100", 8, 96, 384, 0.16),
    Pool("L40S", 4, 64, 384, 0.10),
    Pool("A100", 8, 128, 1024, 0.20),
    Pool("H100", 8, 192, 2048, 0.10),
)

# (GPU request, weight): 0 = CPU-only, below 1000 = a share in milli, otherwise whole devices.
POD_MIX: tuple[tuple[int, float], ...] = (
    (0, 0.26),
    (100, 0.03),
    (200, 0.04),
    (250, 0.07),
    (330, 0.04),
    (500, 0.14),
    (750, 0.05),
    (1000, 0.275),
    (2000, 0.055),
    (4000, 0.025),
    (8000, 0.015),
)


def _counts(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of `total` by `weights`."""
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def generate_nodes(count: int, fleet: Sequence[Pool] = FLEET) -> list[NodeRow]:
    rows: list[NodeRow] = []
    for pool, size in zip(fleet, _counts(count, [p.weight for p in fleet]), strict=True):
        prefix = f"{pool.model.lower() or 'cpu'}x{pool.gpus}"
        rows.extend(
            NodeRow(
                f"{prefix}-{index:04d}",
                pool.cores * 1000,
                pool.memory_gib * _GIB_MIB,
                pool.gpus,
                pool.model,
            )
            for index in range(size)
        )
    return rows


CPU_HEAVY = 4  # a CPU-heavy GPU pod asks for this many times the usual cpu per device


def _cpu_memory(rng: random.Random, gpu_milli: int, heavy: bool) -> tuple[int, int]:
    """CPU (milli) and memory (MiB) to go with a GPU request, as production pods carry them."""
    if gpu_milli == 0:
        cores = rng.choice((1, 2, 4, 4, 8, 8, 16, 32))
        return cores * 1000, cores * rng.choice((2, 4, 4, 8)) * _GIB_MIB
    devices = max(gpu_milli / 1000, 0.25)
    per_device = rng.choice((4, 6, 8, 8, 12)) * (CPU_HEAVY if heavy else 1)
    cores = max(1, round(devices * per_device))
    return cores * 1000, round(devices * rng.choice((16, 32, 32, 64))) * _GIB_MIB


def _models_for(gpu_milli: int, fleet: Sequence[Pool]) -> dict[str, int]:
    """Devices per model on nodes large enough for the request."""
    need = max(1, gpu_milli // 1000)
    devices: dict[str, int] = {}
    for pool in fleet:
        if pool.model and pool.gpus >= need:
            devices[pool.model] = devices.get(pool.model, 0) + pool.gpus * int(pool.weight * 1000)
    return devices


def _constraint(rng: random.Random, gpu_milli: int, fleet: Sequence[Pool]) -> tuple[str, ...]:
    devices = _models_for(gpu_milli, fleet)
    models = sorted(devices)
    first = rng.choices(models, weights=[devices[m] for m in models])[0]
    if rng.random() < 0.5 or len(models) == 1:
        return (first,)
    rest = [m for m in models if m != first]
    return (first, rng.choices(rest, weights=[devices[m] for m in rest])[0])


def generate_pods(
    count: int,
    seed: int,
    constrained: float = 0.1,
    fleet: Sequence[Pool] = FLEET,
    mix: Sequence[tuple[int, float]] = POD_MIX,
    *,
    cpu_heavy: float = 0.0,
) -> list[PodRow]:
    """`constrained` is the share of GPU pods that accept only one or two models, `cpu_heavy`
    the share of pods asking for one device or less that ask for `CPU_HEAVY` times the usual cpu
    per device."""
    rng = random.Random(seed)
    sizes = [size for size, _ in mix]
    weights = [weight for _, weight in mix]
    rows: list[PodRow] = []
    for index in range(count):
        gpu_milli = rng.choices(sizes, weights=weights)[0]
        heavy = 0 < gpu_milli <= 1000 and cpu_heavy > 0 and rng.random() < cpu_heavy
        cpu, memory = _cpu_memory(rng, gpu_milli, heavy)
        spec: tuple[str, ...] = ()
        if gpu_milli and rng.random() < constrained:
            spec = _constraint(rng, gpu_milli, fleet)
        whole = gpu_milli >= 1000
        rows.append(
            PodRow(
                name=f"pod-{index:05d}",
                cpu_milli=cpu,
                memory_mib=memory,
                num_gpu=gpu_milli // 1000 if whole else (1 if gpu_milli else 0),
                gpu_milli=1000 if whole else gpu_milli,
                gpu_spec=spec,
            )
        )
    return rows
