"""Which cluster `kubectl suanli` talks to: kubectl's own order of kubeconfigs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from suanli.plugin.fetch import client_for


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@dataclass(frozen=True)
class Case:
    name: str
    flag: bool
    env: bool
    home: bool
    server: str


CASES = [
    Case("--kubeconfig wins", flag=True, env=True, home=True, server="https://flag:1"),
    Case("then $KUBECONFIG", flag=False, env=True, home=True, server="https://env:1"),
    Case("then ~/.kube/config", flag=False, env=False, home=True, server="https://home:1"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kubeconfig_order(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    if case.home:
        kubeconfig(home / ".kube" / "config", "https://home:1")
    if case.env:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "env.yaml", "https://env:1")))
    flag = kubeconfig(tmp_path / "flag.yaml", "https://flag:1") if case.flag else None
    assert client_for(flag).configuration.host == case.server
