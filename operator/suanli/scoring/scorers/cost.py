"""Cost: the cheaper the pod's share of the node per hour, the higher the score.

The scale is logarithmic up to the demand's price ceiling (or a configured horizon), so that
both a 0.05/h device and a 100/h GPU server are told apart from their neighbours.
"""

from __future__ import annotations

import math

from suanli.scoring import fmt
from suanli.scoring.context import Context
from suanli.scoring.pricing import pod_price
from suanli.scoring.scorers.signal import Signal, clamp
from suanli.scoring.snapshot import NodeSnapshot


def score(context: Context, node: NodeSnapshot) -> Signal:
    spec = context.demand.spec
    price = pod_price(context, node)
    ceiling = spec.max_price_per_hour
    if ceiling is None:
        ceiling = context.config.price_horizon_per_hour
    if ceiling <= 0:
        value = 1.0 if price.per_hour <= 0 else 0.0
    else:
        value = clamp(1 - math.log1p(price.per_hour) / math.log1p(ceiling))
    return Signal(value, f"{fmt.money(price.per_hour)} USD/h {spec.billing} for {price.basis}")
