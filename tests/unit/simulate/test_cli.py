"""`suanli simulate generate` and `suanli simulate run`: one command, a table, JSON and a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suanli.cli import main
from suanli.simulate.run import parse_policies, parse_seeds
from suanli.simulate.trace import load_nodes, load_pods
from suanli.simulate.variants import VARIANTS


def test_generate_then_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    assert (
        main(["simulate", "generate", "--nodes", "30", "--pods", "240", "--out", str(trace)]) == 0
    )
    assert "30 nodes" in capsys.readouterr().out
    out = tmp_path / "out"
    code = main(
        [
            "simulate", "run",
            "--nodes", str(trace / "nodes.csv"),
            "--pods", str(trace / "pods.csv"),
            "--policies", "suanli,bestfit,random",
            "--seeds", "1-2",
            "--jobs", "1",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr()
    assert "unalloc GPU % @100%" in printed.out
    assert "seeds 1-2 (mean ± sd over 2)" in printed.out
    assert "seeds not worse" in printed.out
    assert printed.err.count("seed") >= 6  # one progress line per policy and seed
    data = json.loads((out / "simulate.json").read_text())
    assert set(data["policies"]) == {"suanli", "bestfit", "random"}
    suanli = data["policies"]["suanli"]
    assert [s["seed"] for s in suanli["seeds"]] == [1, 2]
    assert set(suanli["metrics"]) >= {"unallocated@100", "unallocated@130", "fragmentation"}
    assert suanli["curve"][0]["arrived"] == 1
    assert set(data["versus_bestfit"]) == {"suanli", "random"}
    assert (out / "simulate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "simulate.txt").read_text().startswith("30 nodes")


def test_unreadable_trace_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("sn,cpu\n")
    code = main(["simulate", "run", "--nodes", str(nodes), "--pods", str(nodes), "--no-plot"])
    assert code == 1
    assert "missing columns" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seeds"), [("42-44", (42, 43, 44)), ("1,4-5,1", (1, 4, 5)), ("7", (7,))]
)
def test_parse_seeds(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["x", "5-1", "1-"])
def test_parse_seeds_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds(text)


def test_parse_policies() -> None:
    assert parse_policies("bestfit, suanli,bestfit") == ("bestfit", "suanli")
    with pytest.raises(ValueError, match="choose from"):
        parse_policies("firstfit")


def test_run_with_fgd_and_a_tie_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    assert (
        main(["simulate", "generate", "--nodes", "20", "--pods", "150", "--out", str(trace)]) == 0
    )
    out = tmp_path / "out"
    code = main(
        [
            "simulate", "run",
            "--nodes", str(trace / "nodes.csv"),
            "--pods", str(trace / "pods.csv"),
            "--policies", "fgd,bestfit",
            "--ties", "name",
            "--jobs", "1",
            "--no-plot",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    assert "ties name" in capsys.readouterr().out
    data = json.loads((out / "simulate.json").read_text())
    assert data["ties"] == "name"
    assert data["policies"]["fgd"]["seeds"][0]["placed"] > 0


def test_generate_a_named_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    argv = ["simulate", "generate", "--nodes", "40", "--pods", "300", "--variant", "prod-share-80"]
    assert main([*argv, "--seed", "9", "--out", str(trace)]) == 0
    assert "prod-share-80: prod with 80 % of GPU pods shares" in capsys.readouterr().out
    variant = VARIANTS["prod-share-80"]
    assert load_nodes(trace / "nodes.csv") == variant.nodes(40)
    assert load_pods(trace / "pods.csv") == variant.pods(300, 9)
    assert main([*argv, "--constrained", "0.5", "--out", str(trace)]) == 0
    assert load_pods(trace / "pods.csv") == variant.pods(300, 7, 0.5)
