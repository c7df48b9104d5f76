"""How a node's total is summed from its class part and its packing signal, and the best
totals a decision has found so far (what a bound must reach to be worth scoring exactly)."""

from __future__ import annotations

import heapq
import math

from suanli.scoring.combine import resolved
from suanli.state.kept import ClassPart

# Bounds and totals reach the same float by different roads; a margin far above rounding error
# and far below any real difference of totals keeps pruning safe.
_MARGIN = 1e-9


class Total:
    """A node's total from its class part and its packing signal."""

    __slots__ = ("packing_weight", "weight_sum")

    def __init__(self, pairs: tuple[tuple[float, str], ...], weight_sum: float) -> None:
        self.packing_weight = pairs[-1][0]
        self.weight_sum = weight_sum

    def __call__(self, packing: float, part: ClassPart) -> float:
        # The reference sums the static signals first, packing last: the very same float.
        return resolved((part.partial + self.packing_weight * packing) / self.weight_sum)


class BestSoFar:
    """The smallest exact totals that, with their groups' sizes, make up the best `keep`
    nodes found so far; a bound below the last of them cannot reach the best."""

    __slots__ = ("_counted", "_heap", "floor", "keep")

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._heap: list[tuple[float, int]] = []
        self._counted = 0
        # What a bound must reach not to be out of reach (read directly by hot loops).
        self.floor = -math.inf

    def out_of_reach(self, bound: float) -> bool:
        return bound < self.floor

    def add(self, total: float, size: int) -> None:
        if self.keep == 1:
            # The heap would keep the best total alone: the floor follows the best so far.
            self.floor = max(self.floor, total - _MARGIN)
            return
        heapq.heappush(self._heap, (total, size))
        self._counted += size
        while self._counted - self._heap[0][1] >= self.keep:
            self._counted -= heapq.heappop(self._heap)[1]
        if self._counted >= self.keep:
            self.floor = self._heap[0][0] - _MARGIN
