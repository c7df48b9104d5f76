"""The README's main command: `suanli demo` on a control plane of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_places_every_example_and_prints_why(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "SUANLI_DEV_DIR"}
    env["SUANLI_DEV_DIR"] = str(state_dir)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "suanli", "demo", "--timeout=240"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=False,
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "suanli", "dev", "down"], env=env, timeout=120, check=False
        )
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.split("JOB ", 1)[1]
    rows = [
        line.split()
        for line in table.splitlines()[1:]
        if line.strip() and not line.startswith("export")
    ]
    assert {row[0] for row in rows} == {
        "camera-inference",
        "cfd-mpi",
        "etl-shards",
        "llm-finetune",
        "shared-inference",
    }
    assert all(row[1] == "Succeeded" for row in rows)
    assert {row[4] for row in rows if row[0] == "llm-finetune"} == {"H100"}
    assert {row[3] for row in rows if row[0] == "camera-inference"} <= {
        "edge-sh-0",
        "edge-sh-1",
        "edge-sh-2",
    }
    shared = [row for row in rows if row[0] == "shared-inference"]
    assert {row[4] for row in shared} == {"T4"}
    assert all(row[3].startswith("t4-usw2-") for row in shared), shared
