"""The simulated cluster parses each kind of trace node once: every node's facts are those of
its own Node object all the same."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suanli.scoring import node_facts
from suanli.simulate.cluster import SimCluster
from suanli.simulate.trace import NodeRow, node_object
from suanli.simulate.variants import VARIANTS
from tests.unit.scoring.helpers import default_catalog

CATALOG = default_catalog()


@dataclass(frozen=True)
class FactsCase:
    name: str
    rows: tuple[NodeRow, ...]


CASES = [
    FactsCase("the dev fleet", tuple(VARIANTS["dev"].nodes(60))),
    FactsCase("the prod fleet", tuple(VARIANTS["prod"].nodes(60))),
    FactsCase(
        "rows alike but for the name, and one unlike",
        (
            NodeRow("b", 8000, 32768, 2, "A100"),
            NodeRow("a", 8000, 32768, 2, "A100"),
            NodeRow("c", 8000, 32768, 0, ""),
            NodeRow("d", 8000, 32768, 2, "T4"),
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_node_facts_are_each_node_s_own(case: FactsCase) -> None:
    cluster = SimCluster(case.rows, CATALOG)
    own = sorted((node_facts(node_object(r), CATALOG) for r in case.rows), key=lambda f: f.name)
    assert [n.facts for n in cluster.nodes] == own
    assert [n.name for n in cluster.nodes] == [f.name for f in own]
