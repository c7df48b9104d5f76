"""Kueue beside the local control plane, for `bench/queues.py`: its CRDs, its manager serving
its webhooks on loopback with a certificate of ours (as Kueue's own integration tests run it),
and the quota objects of a workload.

The manager is built from the pin in hack/peers/kueue by hack/build-kueue.sh; CRDs and webhook
manifests are read from the same module in the Go module cache.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from suanli.devcluster import components
from suanli.devcluster.pki import CertificateAuthority
from suanli.devcluster.processes import Daemon, free_port
from suanli.devcluster.statefile import ClusterState

ROOT = Path(__file__).resolve().parents[1]
PIN = ROOT / "hack" / "peers" / "kueue" / "go.mod"
NAMESPACE = "kueue-system"
FLAVOR_LABEL = "nvidia.com/gpu.product"
METRICS_CERTS = Path("/etc/kueue/metrics/certs")


def version() -> str:
    for line in PIN.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["sigs.k8s.io/kueue"]:
            return parts[1]
    raise RuntimeError(f"{PIN} pins no sigs.k8s.io/kueue")


def module_dir() -> Path:
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Path(cache) / "sigs.k8s.io" / f"kueue@{version()}"


def build() -> Path:
    out = subprocess.run(
        [str(ROOT / "hack" / "build-kueue.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def install_crds(state: ClusterState) -> None:
    bases = sorted((module_dir() / "config" / "components" / "crd" / "bases").glob("*.yaml"))
    for crd in bases:
        components.kubectl(state, "apply", "--server-side", "--force-conflicts", "-f", str(crd))
    names = [f"crd/{yaml.safe_load(c.read_text())['metadata']['name']}" for c in bases]
    components.kubectl(state, "wait", "--for=condition=Established", "--timeout=60s", *names)


def _webhooks(port: int, ca: bytes) -> list[dict[str, Any]]:
    """Kueue's webhook configurations, for its own kinds and batch/v1 Jobs only, called at
    https://127.0.0.1:PORT instead of through a Service."""
    manifests = module_dir() / "config" / "components" / "webhook" / "manifests.yaml"
    bundle = base64.b64encode(ca).decode()
    configs = []
    for doc in yaml.safe_load_all(manifests.read_text()):
        if not doc:
            continue
        kept = []
        for hook in doc.get("webhooks", []):
            path = hook["clientConfig"]["service"]["path"]
            if "kueue-x-k8s-io" in path or path.endswith("batch-v1-job"):
                hook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{port}{path}",
                    "caBundle": bundle,
                }
                kept.append(hook)
        doc["webhooks"] = kept
        doc["metadata"] = {"name": f"kueue-{doc['metadata']['name']}"}
        configs.append(doc)
    return configs


def start(state: ClusterState, binary: Path, work: Path) -> Daemon:
    """The Kueue manager, ready (its webhooks registered and answering)."""
    certs = work / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    authority = CertificateAuthority(work / "ca")
    pair = authority.issue("webhook", "127.0.0.1", server_ips=("127.0.0.1",))
    (certs / "tls.crt").write_bytes(pair.cert.read_bytes())
    (certs / "tls.key").write_bytes(pair.key.read_bytes())
    # Without its internal certificate management, Kueue reads its metrics certificate from a
    # fixed path (cmd/kueue/main.go); the metrics server itself stays off ("0").
    METRICS_CERTS.mkdir(parents=True, exist_ok=True)
    for name in ("tls.crt", "tls.key"):
        (METRICS_CERTS / name).write_bytes((certs / name).read_bytes())
    webhook, health, visibility = free_port(), free_port(), free_port()
    config = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health}"},
        "metrics": {"bindAddress": "0"},
        "webhook": {"port": webhook, "host": "127.0.0.1", "certDir": str(certs)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "clientConnection": {"qps": 50, "burst": 100},
        "integrations": {"frameworks": ["batch/job"]},
        # Fair sharing among the ClusterQueues of a cohort, by their weights.
        "fairSharing": {
            "preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]
        },
    }
    config_file = work / "kueue-config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    namespaces = components.kubectl(state, "get", "namespaces", "-o", "name").split()
    if f"namespace/{NAMESPACE}" not in namespaces:
        components.kubectl(state, "create", "namespace", NAMESPACE)
    daemon = Daemon.start(
        "kueue",
        [
            str(binary),
            f"--config={config_file}",
            # The on-demand visibility API server wants certificates of its own at a fixed path
            # and is not what the benchmark measures.
            "--feature-gates=VisibilityOnDemand=false",
            f"--visibility-server-port={visibility}",
        ],
        work / "kueue.log",
        env={"KUBECONFIG": str(state.kubeconfig), "POD_NAMESPACE": NAMESPACE},
    )
    daemon.wait_until(lambda: _ok(f"http://127.0.0.1:{health}/readyz"), 120, "ready")
    for hooks in _webhooks(webhook, authority.pair.cert.read_bytes()):
        components.kubectl(state, "apply", "-f", "-", stdin=json.dumps(hooks))
    return daemon


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def environment_ok() -> str | None:
    """Why Kueue cannot run here (None: it can)."""
    if not PIN.is_file():
        return f"{PIN} is missing"
    if os.environ.get("SUANLI_SKIP_KUEUE"):
        return "SUANLI_SKIP_KUEUE is set"
    return None


def quota_objects(
    queues: dict[str, dict[str, Any]], products: dict[str, str], namespaces: dict[str, str]
) -> list[dict[str, Any]]:
    """ResourceFlavors (one per accelerator type), ClusterQueues (cohort, nominal GPU quota per
    flavor, fair-sharing weight) and a LocalQueue per namespace, for the same quotas that
    ComputeQueues get: `queues` maps a queue to {cohort, weight, nominal: {type: GPUs}}; a
    queue without a namespace in `namespaces` gets no LocalQueue (a pool that only lends)."""
    group = "kueue.x-k8s.io/v1beta2"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": group,
            "kind": "ResourceFlavor",
            "metadata": {"name": name.lower()},
            "spec": {"nodeLabels": {FLAVOR_LABEL: product}},
        }
        for name, product in products.items()
    ]
    for queue, spec in queues.items():
        flavors = [
            {
                "name": name.lower(),
                "resources": [
                    {"name": "nvidia.com/gpu", "nominalQuota": spec["nominal"].get(name, 0)},
                    {"name": "cpu", "nominalQuota": "100k"},
                    {"name": "memory", "nominalQuota": "100Pi"},
                ],
            }
            for name in products
        ]
        objects.append(
            {
                "apiVersion": group,
                "kind": "ClusterQueue",
                "metadata": {"name": queue},
                "spec": {
                    "cohortName": spec["cohort"],
                    "namespaceSelector": {},
                    "queueingStrategy": "BestEffortFIFO",
                    "fairSharing": {"weight": str(spec["weight"])},
                    # Without it a ClusterQueue never preempts another's workloads, and the
                    # fair-sharing preemption strategies of the configuration never apply.
                    "preemption": {"reclaimWithinCohort": "Any"},
                    "resourceGroups": [
                        {
                            "coveredResources": ["nvidia.com/gpu", "cpu", "memory"],
                            "flavors": flavors,
                        }
                    ],
                },
            }
        )
        if queue not in namespaces:
            continue  # a pool: it lends its quota and takes no jobs
        objects.append(
            {
                "apiVersion": group,
                "kind": "LocalQueue",
                "metadata": {"name": queue, "namespace": namespaces[queue]},
                "spec": {"clusterQueue": queue},
            }
        )
    return objects
