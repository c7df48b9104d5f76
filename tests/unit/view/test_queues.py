"""Queue rows: usage against quota as the operator counted it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from suanli.view import queue_rows


@dataclass(frozen=True)
class Case:
    name: str
    queue: dict[str, Any]
    usage_text: str
    pending: int
    cohort: str | None


CASES = [
    Case(
        "counted",
        {
            "metadata": {"name": "team-a"},
            "spec": {"cohort": "research", "quotas": [{"resource": "H100", "nominal": 16}]},
            "status": {
                "pending": 2,
                "admitted": 1,
                "usage": [{"resource": "H100", "nominal": 16, "used": 8, "borrowed": 0}],
            },
        },
        "H100 8/16",
        2,
        "research",
    ),
    Case(
        "not counted yet",
        {"metadata": {"name": "team-b"}, "spec": {"quotas": [{"resource": "gpu", "nominal": 4}]}},
        "gpu 0/4",
        0,
        None,
    ),
    Case(
        "a status this version cannot read",
        {
            "metadata": {"name": "team-c"},
            "spec": {"quotas": []},
            "status": {"pending": "many"},
        },
        "-",
        0,
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_queue_row(case: Case) -> None:
    (row,) = queue_rows([case.queue])
    assert (row.usage_text, row.pending, row.cohort) == (case.usage_text, case.pending, case.cohort)


def test_rows_by_name() -> None:
    rows = queue_rows([{"metadata": {"name": n}} for n in ("b", "a", "c")])
    assert [r.name for r in rows] == ["a", "b", "c"]
