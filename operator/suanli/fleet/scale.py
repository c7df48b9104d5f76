"""Scale a fleet to a target node count while keeping its mix of pools."""

from __future__ import annotations

from suanli.fleet.inventory import Fleet, FleetError


def _apportion(weights: list[int], total: int) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), every weighted pool >= 1."""
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    # Keep every kind of node present: take one from the largest pool for each empty one.
    for i, weight in enumerate(weights):
        if weight and counts[i] == 0:
            largest = max(range(len(counts)), key=lambda j: (counts[j], -j))
            counts[largest] -= 1
            counts[i] = 1
    return counts


def scale_fleet(fleet: Fleet, nodes: int) -> Fleet:
    """Return the fleet with pool counts scaled so that they add up to exactly `nodes`."""
    weights = [pool.count for pool in fleet.pools]
    kinds = sum(1 for w in weights if w)
    if nodes < kinds:
        raise FleetError(
            f"nodes: {nodes} is fewer than the {kinds} non-empty pools of fleet {fleet.name!r}; "
            f"ask for at least {kinds} nodes"
        )
    counts = _apportion(weights, nodes)
    pools = [
        pool.model_copy(update={"count": c}) for pool, c in zip(fleet.pools, counts, strict=True)
    ]
    return fleet.model_copy(update={"pools": pools})
