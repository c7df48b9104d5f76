"""Files the control-plane daemons read: kubeconfigs, scheduler configuration, KWOK stages."""

from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanli.devcluster.pki import KeyPair

SUANLI_SCHEDULER_NAME = "suanli-scheduler"
# kube-scheduler's default client rate (50 qps) caps binding near 50 pods/s; a local cluster
# with thousands of fake nodes needs more headroom than that.
SCHEDULER_QPS = 500
SCHEDULER_BURST = 1000


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, ca: Path, client: KeyPair, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "suanli-dev",
                "cluster": {"server": server, "certificate-authority-data": _b64(ca)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert),
                    "client-key-data": _b64(client.key),
                },
            }
        ],
        "contexts": [{"name": "suanli-dev", "context": {"cluster": "suanli-dev", "user": user}}],
        "current-context": "suanli-dev",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _scheduler_base(kubeconfig: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {
            "kubeconfig": str(kubeconfig),
            "qps": SCHEDULER_QPS,
            "burst": SCHEDULER_BURST,
        },
        "leaderElection": {"leaderElect": False},
    }


def default_scheduler_config(kubeconfig: Path) -> dict[str, Any]:
    return {**_scheduler_base(kubeconfig), "profiles": [{"schedulerName": "default-scheduler"}]}


def suanli_scheduler_config(kubeconfig: Path, extender_port: int) -> dict[str, Any]:
    """The second scheduler, as real extenders are deployed: its own name, calling our extender.

    Extenders are global to a kube-scheduler process, so the Suanli profile runs in a process of
    its own and pods of the default scheduler never wait on the extender.
    """
    return {
        **_scheduler_base(kubeconfig),
        "profiles": [{"schedulerName": SUANLI_SCHEDULER_NAME}],
        "extenders": [
            {
                "urlPrefix": f"http://127.0.0.1:{extender_port}",
                "filterVerb": "filter",
                "prioritizeVerb": "prioritize",
                "bindVerb": "bind",
                "weight": 5,
                "enableHTTPS": False,
                "nodeCacheCapable": True,
                "ignorable": False,
                "httpTimeout": "5s",
            }
        ],
    }


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def write_kwok_stages(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("suanli.data").joinpath("kwok-stages.yaml").read_text())
    return path
