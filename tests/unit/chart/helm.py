"""Run the pinned helm binary on the chart and read what it renders."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.devcluster import tools
from suanli.devcluster.processes import ClusterError

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "suanli"
SCENARIOS = sorted((CHART / "ci").glob("*.yaml"))
# The Kubernetes version the project pins (hack/tools/kubernetes/go.mod): `helm template` has no
# cluster to ask, and kube-scheduler's image tag follows the cluster version.
KUBE_VERSION = "v1.37.2"
RELEASE = "suanli"
NAMESPACE = "suanli-system"


@functools.cache
def bin_dir() -> Path:
    """The pinned helm; built on first use like every other tool the tests need."""
    try:
        return tools.bin_dir(build=True)
    except ClusterError as error:
        pytest.fail(f"cannot build helm and kube-scheduler: {error}")


def helm(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """helm with a throw-away home, so no user repository or plugin changes the outcome."""
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/suanli-helm/cache"}
    env["HELM_CONFIG_HOME"] = "/tmp/suanli-helm/config"
    env["HELM_DATA_HOME"] = "/tmp/suanli-helm/data"
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [str(bin_dir() / "helm"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@dataclass(frozen=True)
class Manifest:
    """The objects one `helm template` printed."""

    objects: tuple[dict[str, Any], ...]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for candidate in self.kinds(kind):
            if candidate["metadata"]["name"] == name:
                return candidate
        names = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in self.objects)
        raise KeyError(f"no {kind}/{name} among {names}")

    def has(self, kind: str, name: str) -> bool:
        return any(o["metadata"]["name"] == name for o in self.kinds(kind))

    def names(self) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in self.objects}

    def pod_specs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for deployment in self.kinds("Deployment"):
            yield deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]

    def configmap_yaml(self, name: str, key: str) -> Any:
        return yaml.safe_load(self.get("ConfigMap", name)["data"][key])


class RenderError(Exception):
    pass


def template_args(
    values_files: Sequence[Path] = (),
    values: dict[str, Any] | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[str]:
    args = [release, str(CHART), "--namespace", namespace]
    for path in values_files:
        args += ["--values", str(path)]
    for key, value in (values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


@functools.cache
def _render(
    values_files: tuple[Path, ...], values_json: str, kube_version: str, release: str
) -> Manifest:
    result = helm(
        "template",
        *template_args(values_files, json.loads(values_json), release=release),
        "--kube-version",
        kube_version,
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    return Manifest(tuple(d for d in yaml.safe_load_all(result.stdout) if d))


def render(
    *values_files: Path,
    values: dict[str, Any] | None = None,
    kube_version: str = KUBE_VERSION,
    release: str = RELEASE,
) -> Manifest:
    """`helm template` of the chart; `values` are --set-json pairs ("operator.replicas": 2)."""
    return _render(tuple(values_files), json.dumps(values or {}), kube_version, release)


def render_error(*values_files: Path, values: dict[str, Any] | None = None) -> str:
    try:
        render(*values_files, values=values)
    except RenderError as error:
        return str(error)
    raise AssertionError(f"rendering with {values} succeeded, expected a failure")
