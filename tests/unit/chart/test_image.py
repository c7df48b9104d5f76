"""The Dockerfile, checked without a Docker engine: base, user, entrypoint, build context."""

from __future__ import annotations

import fnmatch
import importlib
import re
import tomllib
from dataclasses import dataclass

import pytest

from suanli.cli import build_parser
from tests.unit.chart.helm import ROOT, render

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str


def _instructions() -> list[Instruction]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found.append(Instruction(name.upper(), value.strip()))
    return found


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in _instructions():
        if instruction.name == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _args() -> dict[str, str]:
    return dict(
        i.value.split("=", 1) for i in _instructions() if i.name == "ARG" and "=" in i.value
    )


def _final(name: str) -> list[Instruction]:
    return [i for i in _stages()[-1] if i.name == name]


def test_bases_are_slim_pinned_python_images() -> None:
    args = _args()
    for stage in _stages():
        image = stage[0].value.split()[0]
        for key, value in args.items():
            image = image.replace(f"${{{key}}}", value)
        repository, _, tag = image.partition(":")
        assert repository == "python", image
        assert re.fullmatch(r"3\.\d+-slim-[a-z]+", tag), f"{image}: pin a slim tag with a release"


def test_python_version_meets_requires_python() -> None:
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    version = tuple(int(p) for p in _args()["PYTHON_VERSION"].split("."))
    assert version >= tuple(int(p) for p in minimum.split("."))


def test_runs_as_the_non_root_user_the_chart_expects() -> None:
    (user,) = _final("USER")
    uid, _, gid = user.value.partition(":")
    # Numeric, or the kubelet cannot verify runAsNonRoot against the image.
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    pod = render().get("Deployment", "suanli-operator")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsGroup"] == int(gid)


def test_entrypoint_is_the_suanli_console_script() -> None:
    (entrypoint,) = _final("ENTRYPOINT")
    assert entrypoint.value == '["suanli"]', "exec form, so signals reach the process"
    target = PYPROJECT["project"]["scripts"]["suanli"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("command", ["operator", "extender"])
def test_both_commands_the_chart_runs_exist(command: str) -> None:
    assert build_parser().parse_args([command]).command == command


def test_read_only_root_filesystem_is_respected() -> None:
    env = " ".join(i.value for i in _final("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def _ignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # As Docker reads it: the last pattern that matches decides, and `!` lets a path back in.
    ignored = False
    for pattern in patterns:
        kept = pattern.startswith("!")
        bare = pattern.removeprefix("!")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare.rstrip("/") + "/"):
            ignored = not kept
    return ignored


def test_copied_sources_exist_and_are_in_the_build_context() -> None:
    copies = [i.value.split() for i in _instructions() if i.name == "COPY"]
    sources = [s for c in copies if not c[0].startswith("--from") for s in c[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".git",
        ".venv",
        "tests",
        ".mypy_cache",
        "operator/suanli/__pycache__",
        "bench/results",
        "hack/test.sh",
        # `make compile` output: the image compiles for its own Python (hack/compile.sh --in).
        "operator/build",
        "operator/suanli/state/ties.cpython-311-x86_64-linux-gnu.so",
    ],
)
def test_local_state_stays_out_of_the_build_context(path: str) -> None:
    assert _ignored(path)


def test_no_remote_add_and_no_latest() -> None:
    for instruction in _instructions():
        assert instruction.name != "ADD", "COPY, not ADD"
        assert ":latest" not in instruction.value
