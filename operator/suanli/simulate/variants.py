"""Named trace variants: a fleet, a pod mix and the share of GPU pods restricted to models.

`dev` is the development trace (`generate.FLEET`, `generate.POD_MIX`). The `prod` family is
shaped like published GPU cluster traces (Alibaba's, as used by Weng et al., ATC'23): most nodes
are 8-GPU servers of several models, beside a few 1-, 2- and 4-GPU servers and CPU-only nodes;
GPU pods are whole single devices, shares of one device at a few common sizes with a long tail
of others, and multi-GPU pods; a tenth of the pods asking for one GPU or less ask for four times
the usual cpu per device (CPU-heavy work on GPU nodes). Each `prod-*` variant changes one figure
of `prod`, the way the paper's evaluation varies its traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.simulate.generate import FLEET, POD_MIX, Pool, generate_nodes, generate_pods
from suanli.simulate.trace import NodeRow, PodRow

PROD_FLEET: tuple[Pool, ...] = (
    Pool("", 0, 96, 384, 0.10),
    Pool("T4", 1, 16, 64, 0.04),
    Pool("T4", 2, 32, 128, 0.06),
    Pool("A10", 4, 64, 256, 0.04),
    Pool("L40S", 4, 64, 384, 0.06),
    Pool("T4", 8, 96, 512, 0.08),
    Pool("A10", 8, 96, 512, 0.12),
    Pool("V100", 8, 96, 512, 0.25),
    Pool("A100", 8, 128, 1024, 0.20),
    Pool("H100", 8, 192, 2048, 0.05),
)

# Shares at a few common sizes (half, a quarter, a tenth, three quarters) and a long tail.
SHARE_SIZES: tuple[tuple[int, float], ...] = (
    (100, 0.08),
    (200, 0.06),
    (250, 0.18),
    (300, 0.04),
    (400, 0.03),
    (500, 0.40),
    (600, 0.03),
    (700, 0.02),
    (750, 0.08),
    (800, 0.03),
    (900, 0.05),
)
MULTI_SIZES: tuple[tuple[int, float], ...] = ((2, 0.60), (4, 0.25), (8, 0.15))


@dataclass(frozen=True, slots=True)
class PodMix:
    """A pod mix by its figures: shares of all pods (CPU-only) or of the GPU pods."""

    cpu_only: float  # of all pods
    share: float  # of GPU pods: a share of one device
    multi: float  # of GPU pods: two or more whole devices; the rest ask for one whole device
    constrained: float  # of GPU pods: accept only one or two models
    cpu_heavy: float  # of pods asking for one device or less: four times the usual cpu

    def table(self) -> tuple[tuple[int, float], ...]:
        """The mix as (GPU request, weight) rows, the form `generate_pods` draws from."""
        if not 0 <= self.share + self.multi <= 1:
            raise ValueError("share and multi-GPU pods cannot be more than every GPU pod")
        gpu = 1 - self.cpu_only
        rows = [(0, self.cpu_only)]
        rows += [(milli, gpu * self.share * w) for milli, w in SHARE_SIZES]
        rows.append((1000, gpu * (1 - self.share - self.multi)))
        rows += [(count * 1000, gpu * self.multi * w) for count, w in MULTI_SIZES]
        return tuple((size, weight) for size, weight in rows if weight > 0)


PROD_MIX = PodMix(cpu_only=0.12, share=0.30, multi=0.10, constrained=0.10, cpu_heavy=0.10)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    about: str
    fleet: tuple[Pool, ...]
    mix: tuple[tuple[int, float], ...]  # (GPU request, weight), as `generate.POD_MIX`
    constrained: float
    cpu_heavy: float = 0.0

    def nodes(self, count: int) -> list[NodeRow]:
        return generate_nodes(count, self.fleet)

    def pods(self, count: int, seed: int, constrained: float | None = None) -> list[PodRow]:
        """`constrained` overrides the variant's share of GPU pods restricted to models."""
        share = self.constrained if constrained is None else constrained
        return generate_pods(count, seed, share, self.fleet, self.mix, cpu_heavy=self.cpu_heavy)


def _prod(name: str, about: str, **changes: float) -> Variant:
    figures = {
        "cpu_only": PROD_MIX.cpu_only,
        "share": PROD_MIX.share,
        "multi": PROD_MIX.multi,
        "constrained": PROD_MIX.constrained,
        "cpu_heavy": PROD_MIX.cpu_heavy,
        **changes,
    }
    mix = PodMix(**figures)
    return Variant(name, about, PROD_FLEET, mix.table(), mix.constrained, mix.cpu_heavy)


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("dev", "development fleet and mix, 10 % of GPU pods typed", FLEET, POD_MIX, 0.1),
        Variant("dev-typed", "the dev trace with 40 % of GPU pods typed", FLEET, POD_MIX, 0.4),
        _prod("prod", "production-shaped: 30 % share, 10 % multi-GPU, 10 % typed"),
        _prod("prod-types-20", "prod with 20 % of GPU pods typed", constrained=0.20),
        _prod("prod-types-33", "prod with 33 % of GPU pods typed", constrained=0.33),
        _prod("prod-share-40", "prod with 40 % of GPU pods shares", share=0.40),
        _prod("prod-share-80", "prod with 80 % of GPU pods shares", share=0.80),
        _prod("prod-multi-30", "prod with 30 % of GPU pods multi-GPU", multi=0.30),
        _prod("prod-multi-50", "prod with 50 % of GPU pods multi-GPU", multi=0.50),
    )
}
PROD_VARIANTS: tuple[str, ...] = tuple(name for name in VARIANTS if name.startswith("prod"))


def variant_named(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"variant {name!r}: choose from {', '.join(VARIANTS)}") from None


def parse_variants(text: str) -> tuple[str, ...]:
    """`prod,prod-share-80`, `all` (every variant) or `prod-all` (the prod family)."""
    if text.strip() == "all":
        return tuple(VARIANTS)
    if text.strip() == "prod-all":
        return PROD_VARIANTS
    names: Sequence[str] = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise ValueError(f"variants: choose from {', '.join(VARIANTS)}")
    return tuple(variant_named(name).name for name in names)
