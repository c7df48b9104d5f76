"""Text and JSON for the terminal: `top`'s tables and the plugin's name."""

from __future__ import annotations

import json

import pytest

from suanli.cli import build_parser
from suanli.view import fleet_rows, node_cells, queue_rows
from suanli.view.render import as_data, table, top_text
from tests.unit.view.fixtures import feed, pod


def test_table_pads_columns() -> None:
    assert table(("A", "BB"), [("xyz", 1)]) == "A    BB\nxyz  1"


def test_top_shows_every_kind_and_queue() -> None:
    fleet = fleet_rows(node_cells(feed([pod("a", "h100-0", 8)]).state))
    queues = queue_rows([{"metadata": {"name": "team-a"}, "spec": {"quotas": []}}])
    lines = top_text(fleet, queues).splitlines()
    assert lines[0].split() == [
        "ACCELERATOR", "TIER", "SITE", "NODES", "DEVICES", "ALLOCATED", "FREE", "FRAGMENTED",
    ]  # fmt: skip
    assert lines[1].split() == ["H100", "cloud", "us-east-1a", "2", "16", "8", "8", "0"]
    assert any(line.startswith("team-a") for line in lines)
    data = json.loads(json.dumps(as_data({"fleet": fleet, "queues": queues})))
    assert data["fleet"][0]["kind"]["accelerator"] == "H100"
    assert data["queues"][0]["name"] == "team-a"


@pytest.mark.parametrize("prog", ["suanli", "kubectl suanli"])
def test_both_names_have_explain_top_and_ui(prog: str) -> None:
    parser = build_parser(prog)
    for words in (["top", "-o", "json"], ["explain", "job", "-n", "ns"], ["ui", "--port", "1"]):
        assert parser.parse_args(words).handler is not None
    assert parser.prog == prog
