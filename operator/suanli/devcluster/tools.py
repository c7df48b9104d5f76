"""Find (and on first use, build) the pinned control-plane binaries."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from suanli.devcluster.processes import ClusterError

REQUIRED = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)


def repo_root() -> Path:
    """The checkout this package runs from: the tool pins live in its `hack/` folder."""
    return Path(__file__).resolve().parents[3]


def _build_script() -> Path:
    script = repo_root() / "hack" / "build-tools.sh"
    if not script.is_file():
        raise ClusterError(
            f"cannot find {script}: run from a Suanli checkout, or set SUANLI_BIN_DIR to a folder "
            f"holding {', '.join(REQUIRED)}"
        )
    return script


def _check(bin_dir: Path) -> Path:
    missing = [name for name in REQUIRED if not (bin_dir / name).is_file()]
    if missing:
        raise ClusterError(f"{bin_dir} lacks {', '.join(missing)}")
    return bin_dir


def bin_dir(build: bool = True) -> Path:
    """$SUANLI_BIN_DIR, else the pin-keyed cache folder (built on first use when `build`)."""
    override = os.environ.get("SUANLI_BIN_DIR")
    if override:
        return _check(Path(override))
    script = _build_script()
    cached = Path(
        subprocess.run(
            [script, "--print"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    if (cached / ".complete").is_file():
        return _check(cached)
    if not build:
        raise ClusterError(f"control-plane tools are not built yet; run {script}")
    print(
        "building the pinned control-plane tools from the Go module proxy (first run only; "
        "tens of minutes on 2 cores) ...",
        file=sys.stderr,
    )
    # One build per cache at a time (hack/lib.sh takes the same lock): a second caller waits and
    # then finds the first one's result instead of writing into the same partial folder.
    lock_path = cached.parent.parent / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run([script], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(
            f"{script} failed with exit code {result.returncode}; see its output above"
        )
    return _check(Path(result.stdout.strip().splitlines()[-1]))
