"""The decider compiled with mypyc (`make compile`) places every pod where pure Python does.

Each trace is replayed twice, in child processes: once from the checkout as it is (its hot
modules compiled in place) and once from a copy of the package without the compiled modules.
The placements, pod by pod (node and devices), must be equal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

_OPERATOR = Path(__file__).resolve().parents[2] / "operator"

# A few replays, placements printed as JSON, and where the decider's module was loaded from.
_REPLAYS = """
import json, sys
import suanli.state.scan
from suanli.simulate.arrivals import arrival_sequence
from suanli.simulate.replay import replay
from suanli.simulate.run import RunSpec, load_scoring_files
from suanli.simulate.variants import VARIANTS
out = {"scan": suanli.state.scan.__file__, "placements": {}}
for case in json.loads(sys.argv[1]):
    variant = VARIANTS[case["variant"]]
    spec = RunSpec(
        tuple(variant.nodes(case["nodes"])), tuple(variant.pods(case["pods"], 7)),
        ("suanli",), (case["seed"],),
    )
    catalog, latency = load_scoring_files(spec)
    capacity = sum(row.gpu for row in spec.nodes) * 1000
    sequence = arrival_sequence(spec.pods, capacity, case["seed"], spec.inflate)
    result = replay(
        spec.nodes, sequence, "suanli", catalog=catalog, latency=latency, seed=case["seed"],
        keep_placements=True, ties=spec.ties,
    )
    out["placements"][case["variant"]] = [
        [str(p.pod), str(p.node), str(p.devices)] for p in result.placements
    ]
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Trace:
    variant: str
    nodes: int
    pods: int
    seed: int


TRACES = [
    Trace(variant="dev", nodes=300, pods=2500, seed=42),
    Trace(variant="dev-typed", nodes=200, pods=1500, seed=43),
    Trace(variant="prod-share-40", nodes=200, pods=1500, seed=44),
    Trace(variant="prod-multi-30", nodes=200, pods=1500, seed=45),
]


def _replayed(package_root: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", _REPLAYS, json.dumps([t.__dict__ for t in TRACES])],
        env={**os.environ, "PYTHONPATH": str(package_root)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_the_compiled_decider_places_every_pod_where_pure_python_does(tmp_path: Path) -> None:
    if not any((_OPERATOR / "suanli").rglob("*.so")):
        pytest.skip("nothing compiled in this checkout (`make compile`)")
    shutil.copytree(
        _OPERATOR / "suanli",
        tmp_path / "suanli",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    compiled, pure = _replayed(_OPERATOR), _replayed(tmp_path)
    assert str(compiled["scan"]).endswith(".so")
    assert str(pure["scan"]).endswith(".py")
    assert isinstance(compiled["placements"], dict)
    for trace in TRACES:
        placed = compiled["placements"][trace.variant]
        assert placed, f"{trace.variant}: nothing placed"
        assert placed == pure["placements"][trace.variant], trace.variant  # type: ignore[index]
