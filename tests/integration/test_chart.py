"""The Helm chart in the real local control plane: install, upgrade, RBAC proven, uninstall.

The chart's pods land on KWOK nodes, which mark them Running without running anything. So the
programs are run here as processes with the credentials of the chart's ServiceAccounts (tokens
from the TokenRequest API), which is what RBAC sees of them in a real cluster: a wrong rule
shows up as a 403 and a failed test.

The extender has to listen on the port the local suanli-scheduler calls, so the shared
`extender` fixture is stopped while a ServiceAccount-run extender serves there, and started again
afterwards. The tests run in file order, each step building on the previous one's release.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from suanli.devcluster.nodes import core_api
from suanli.devcluster.processes import Daemon, free_port, log_tail, stop
from tests.integration.conftest import ControlPlane, Extender, operators_stopped
from tests.integration.helpers import (
    delete_namespace_and_wait,
    eventually,
    new_namespace,
    node_labels,
    node_of,
    owning_job,
    raw_pod,
    suanli_pod,
)
from tests.unit.chart.crd_template import PLURALS, crd_file
from tests.unit.chart.helm import CHART, ROOT, bin_dir, helm, render

RELEASE = "suanli"
NAMESPACE = "suanli-chart"
QUICKSTART_NAMESPACE = "suanli-quickstart"
CRD = "computejobs.suanli.dev"
# Every CRD the chart carries: each is adopted, kept, restored and checked alike.
CRDS = tuple(f"{plural}.suanli.dev" for plural in PLURALS)
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
GPU_PRODUCT = "nvidia.com/gpu.product"
# The operator the conftest `operator` fixture runs holds this Lease; while it is live, a second
# operator would reconcile the same jobs and hide what this module's one can or cannot do, so
# the session's operators are stopped while the chart's runs.
SHARED_OPERATOR_LEASE = ("suanli-system", "suanli-operator")


# --- small helpers ---------------------------------------------------------------------------------


def kubectl(
    control_plane: ControlPlane, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(bin_dir() / "kubectl"), f"--kubeconfig={control_plane.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def helm_ok(control_plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    result = helm(*args, kubeconfig=control_plane.kubeconfig)
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def restricted_namespace(control_plane: ControlPlane, name: str) -> None:
    """A namespace that enforces the "restricted" Pod Security Standard, fresh."""
    if kubectl(control_plane, "get", "namespace", name, check=False).returncode == 0:
        kubectl(control_plane, "delete", "namespace", name, "--timeout=120s")
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    control_plane.core.create_namespace({"metadata": {"name": name, "labels": labels}})  # type: ignore[arg-type]


def adopt_crd(control_plane: ControlPlane, namespace: str) -> None:
    """Let the release take over CRDs applied before it (docs/troubleshooting.md)."""
    for crd in CRDS:
        if kubectl(control_plane, "get", "crd", crd, check=False).returncode != 0:
            continue
        kubectl(
            control_plane, "label", "--overwrite", "crd", crd, "app.kubernetes.io/managed-by=Helm"
        )
        kubectl(
            control_plane,
            "annotate",
            "--overwrite",
            "crd",
            crd,
            f"meta.helm.sh/release-name={RELEASE}",
            f"meta.helm.sh/release-namespace={namespace}",
        )


def restore_crd(control_plane: ControlPlane) -> None:
    """Leave the CRDs as the other test modules expect them: applied from crds/."""
    for plural, crd in zip(PLURALS, CRDS, strict=True):
        eventually(
            lambda crd=crd: (
                kubectl(control_plane, "get", "crd", crd, check=False).returncode != 0
                or "deletionTimestamp"
                not in kubectl(control_plane, "get", "crd", crd, "-o", "json").stdout
            ),
            120,
            f"{crd} not terminating",
        )
        kubectl(
            control_plane,
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(crd_file(plural)),
        )
        kubectl(control_plane, "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd}")


def manifest_objects(control_plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    out = helm_ok(control_plane, "get", "manifest", RELEASE, "-n", namespace).stdout
    return [o for o in yaml.safe_load_all(out) if o]


def ref(obj: dict[str, Any], namespace: str) -> list[str]:
    """kubectl arguments naming one object of a manifest."""
    kind = obj["kind"].lower()
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    resource = f"{kind}.{group}" if group else kind
    args = [f"{resource}/{obj['metadata']['name']}"]
    if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
        args += ["-n", obj["metadata"].get("namespace", namespace)]
    return args


def write_token_kubeconfig(
    control_plane: ControlPlane, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount, as its pod's token would."""
    token = kubectl(
        control_plane, "create", "token", account, "-n", namespace, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": cluster}],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "local", "user": account}}],
                "current-context": "sa",
            }
        )
    )
    path.chmod(0o600)
    return path


def configmap_files(control_plane: ControlPlane, namespace: str, name: str, folder: Path) -> Path:
    """The ConfigMap's keys as files, as its volume mount shows them to the container."""
    data = control_plane.core.read_namespaced_config_map(name, namespace).data
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in data.items():
        (folder / key).write_text(value)
    return folder


def forbidden_lines(log: Path) -> list[str]:
    return [
        line for line in log.read_text(errors="replace").splitlines() if "forbidden" in line.lower()
    ]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def shared_operator_is_running(control_plane: ControlPlane) -> bool:
    namespace, name = SHARED_OPERATOR_LEASE
    try:
        lease = client.CoordinationV1Api(control_plane.core.api_client).read_namespaced_lease(
            name, namespace
        )
    except client.ApiException:
        return False
    renewed = lease.spec.renew_time
    return bool(lease.spec.holder_identity and renewed and time.time() - renewed.timestamp() < 30)


def wait_shared_operator_gone(control_plane: ControlPlane) -> None:
    """Until no operator holds the shared Lease (a stopped one releases it)."""
    eventually(lambda: not shared_operator_is_running(control_plane), 60, "shared Lease free")


@dataclass
class Programs:
    """`suanli extender` and `suanli operator` running as the chart's ServiceAccounts."""

    control_plane: ControlPlane
    namespace: str
    folder: Path
    extender_account: str
    webhook: bool = False
    daemons: list[Daemon] = field(default_factory=list)
    operator_port: int = 0

    @property
    def extender_log(self) -> Path:
        return self.folder / "extender.log"

    @property
    def operator_log(self) -> Path:
        return self.folder / "operator.log"

    def start(self) -> None:
        files = configmap_files(
            self.control_plane, self.namespace, f"{RELEASE}-catalog", self.folder / "catalog"
        )
        extender_config = write_token_kubeconfig(
            self.control_plane, self.namespace, self.extender_account, self.folder / "ext.yaml"
        )
        port = self.control_plane.state.ports.extender
        extender = Daemon.start(
            "chart-extender",
            [
                sys.executable,
                "-m",
                "suanli",
                "extender",
                f"--kubeconfig={extender_config}",
                f"--port={port}",
                f"--catalog={files / 'catalog.yaml'}",
                f"--latency={files / 'latency.yaml'}",
            ],
            self.extender_log,
        )
        self.daemons.append(extender)
        extender.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), 60, "ready")
        operator_config = write_token_kubeconfig(
            self.control_plane, self.namespace, f"{RELEASE}-operator", self.folder / "op.yaml"
        )
        self.operator_port = free_port()
        daemon = Daemon.start(
            "chart-operator",
            [
                sys.executable,
                "-m",
                "suanli",
                "operator",
                f"--kubeconfig={operator_config}",
                f"--namespace={self.namespace}",
                f"--identity=chart-test-{self.namespace}",
                "--metrics-host=127.0.0.1",
                f"--metrics-port={self.operator_port}",
                f"--catalog={files / 'catalog.yaml'}",
                f"--latency={files / 'latency.yaml'}",
                # The apiserver runs on this host: it calls the webhook on 127.0.0.1.
                *([f"--webhook-port={free_port()}"] if self.webhook else []),
            ],
            self.operator_log,
        )
        self.daemons.append(daemon)
        daemon.wait_until(
            lambda: http_ok(f"http://127.0.0.1:{self.operator_port}/healthz"), 60, "healthy"
        )

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            if daemon.process.poll() is None:
                stop(daemon.record())
            daemon.process.wait()
        self.daemons.clear()


@dataclass
class Release:
    control_plane: ControlPlane
    namespace: str
    install: subprocess.CompletedProcess[str]

    def upgrade(self, *args: str) -> subprocess.CompletedProcess[str]:
        return helm_ok(
            self.control_plane,
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            self.namespace,
            "--reuse-values",
            "--wait",
            "--timeout=180s",
            *args,
        )

    def deployment(self, name: str) -> dict[str, Any]:
        out = kubectl(
            self.control_plane, "get", "deployment", name, "-n", self.namespace, "-o", "json"
        )
        return dict(json.loads(out.stdout))

    def pods(self, component: str) -> list[dict[str, Any]]:
        out = kubectl(
            self.control_plane,
            "get",
            "pods",
            "-n",
            self.namespace,
            "-l",
            f"{INSTANCE},app.kubernetes.io/component={component}",
            "-o",
            "json",
        )
        return [
            p for p in json.loads(out.stdout)["items"] if not p["metadata"].get("deletionTimestamp")
        ]


# --- the release ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(control_plane: ControlPlane) -> Iterator[Release]:
    restricted_namespace(control_plane, NAMESPACE)
    adopt_crd(control_plane, NAMESPACE)
    install = helm_ok(
        control_plane,
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--wait",
        "--timeout=180s",
    )
    try:
        yield Release(control_plane, NAMESPACE, install)
    finally:
        helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", kubeconfig=control_plane.kubeconfig)
        kubectl(control_plane, "delete", "namespace", NAMESPACE, "--timeout=120s", check=False)
        restore_crd(control_plane)


def test_install_creates_every_object_under_restricted_pod_security(release: Release) -> None:
    cp = release.control_plane
    # PodSecurity answers a Deployment whose pods it would refuse with a warning.
    assert "PodSecurity" not in release.install.stderr, release.install.stderr
    objects = manifest_objects(cp, NAMESPACE)
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == render().names()
    for obj in objects:
        kubectl(cp, "get", *ref(obj, NAMESPACE))
    for component in ("operator", "scheduler"):
        deployment = release.deployment(f"{RELEASE}-{component}")
        assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"]
        # The apiserver admitted them under "restricted": they exist.
        assert len(release.pods(component)) == deployment["spec"]["replicas"]
    scheduler = release.pods("scheduler")[0]["spec"]
    assert [c["name"] for c in scheduler["containers"]] == ["kube-scheduler", "extender"]
    assert scheduler["serviceAccountName"] == f"{RELEASE}-scheduler"
    for name in CRDS:
        crd = json.loads(kubectl(cp, "get", "crd", name, "-o", "json").stdout)
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", name


def test_upgrade_with_a_changed_catalog_rolls_it_out(release: Release) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    types = values["catalog"]["types"]
    h100 = next(t for t in types if t["name"] == "H100")
    h100["pricePerHour"] = 9.99
    before = {c: release.deployment(f"{RELEASE}-{c}") for c in ("operator", "scheduler")}
    release.upgrade("--set-json", f"catalog.types={json.dumps(types)}")
    catalog = release.control_plane.core.read_namespaced_config_map(f"{RELEASE}-catalog", NAMESPACE)
    new_h100 = next(
        t for t in yaml.safe_load(catalog.data["catalog.yaml"])["types"] if t["name"] == "H100"
    )
    assert new_h100["pricePerHour"] == 9.99
    for component, old in before.items():
        name = f"{RELEASE}-{component}"
        kubectl(
            release.control_plane,
            "rollout",
            "status",
            f"deployment/{name}",
            "-n",
            NAMESPACE,
            "--timeout=120s",
        )
        new = release.deployment(name)
        checksum = new["spec"]["template"]["metadata"]["annotations"]["checksum/catalog"]
        assert checksum != old["spec"]["template"]["metadata"]["annotations"]["checksum/catalog"]
        assert new["metadata"]["generation"] > old["metadata"]["generation"]
        pods = eventually(
            lambda c=component, s=checksum: (
                (p := release.pods(c))
                and all(x["metadata"]["annotations"].get("checksum/catalog") == s for x in p)
                and p
            ),
            60,
            f"{component} pods on the new catalog",
        )
        assert len(pods) == new["spec"]["replicas"]


@pytest.fixture(scope="module")
def service_mode(release: Release) -> Release:
    """The extender in its own Deployment with its own ServiceAccount: least privilege, apart;
    the read-only web view beside it."""
    release.upgrade("--set", "extender.mode=service", "--set", "ui.enabled=true")
    return release


def test_upgrade_to_a_service_mode_extender(service_mode: Release) -> None:
    cp = service_mode.control_plane
    extender = service_mode.deployment(f"{RELEASE}-extender")
    # Two replicas, rolled one at a time with a new one Ready first; a leader elected among them.
    assert extender["status"].get("readyReplicas") == 2
    assert extender["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    args = extender["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-elect" in args
    assert f"--lease-name={RELEASE}-extender" in args
    assert extender["spec"]["template"]["spec"]["serviceAccountName"] == f"{RELEASE}-extender"
    # The read-only web view beside it, as its own ServiceAccount (KWOK runs no container: what
    # the account may do is proven by the can-i table below).
    ui = service_mode.deployment(f"{RELEASE}-ui")
    assert ui["status"].get("readyReplicas") == 1
    assert ui["spec"]["template"]["spec"]["serviceAccountName"] == f"{RELEASE}-ui"
    # Only the scheduler's pods and the other replicas reach the extender's port.
    policy = json.loads(
        kubectl(
            cp, "get", "networkpolicy", f"{RELEASE}-extender", "-n", NAMESPACE, "-o", "json"
        ).stdout
    )
    sources = [p["podSelector"]["matchLabels"] for p in policy["spec"]["ingress"][0]["from"]]
    assert [s["app.kubernetes.io/component"] for s in sources] == ["scheduler", "extender"]
    (scheduler,) = service_mode.pods("scheduler")
    assert [c["name"] for c in scheduler["spec"]["containers"]] == ["kube-scheduler"]
    config = yaml.safe_load(
        cp.core.read_namespaced_config_map(f"{RELEASE}-scheduler-config", NAMESPACE).data[
            "config.yaml"
        ]
    )
    # Mutual TLS by default, with the certificates the chart made.
    assert config["extenders"][0]["urlPrefix"] == f"https://{RELEASE}-extender.{NAMESPACE}.svc:8888"
    assert config["extenders"][0]["tlsConfig"]["certFile"].endswith("/tls.crt")
    kubectl(cp, "get", "service", f"{RELEASE}-extender", "-n", NAMESPACE)
    # An upgrade keeps them: the scheduler's client certificate stays valid for the extender.
    names = (f"{RELEASE}-extender-tls", f"{RELEASE}-extender-client-tls")
    before = [cp.core.read_namespaced_secret(name, NAMESPACE).data for name in names]
    service_mode.upgrade("--set", "extender.mode=service")
    assert [cp.core.read_namespaced_secret(name, NAMESPACE).data for name in names] == before


# --- RBAC: what each ServiceAccount can and cannot do ----------------------------------------------

OP, SCHED, EXT = f"{RELEASE}-operator", f"{RELEASE}-scheduler", f"{RELEASE}-extender"
UI = f"{RELEASE}-ui"
OTHER = "default"  # a namespace that is not the release's
CAN_I = [
    # The operator: ComputeJobs and their pods anywhere, its own Lease only, reads no Secrets.
    (OP, "yes", ["patch", "computejobs.suanli.dev", "-n", OTHER]),
    (OP, "yes", ["delete", "computejobs.suanli.dev", "-n", OTHER]),
    (OP, "yes", ["patch", "computejobs.suanli.dev", "--subresource=status", "-n", OTHER]),
    (OP, "yes", ["create", "pods", "-n", OTHER]),
    (OP, "yes", ["delete", "pods", "-n", OTHER]),
    (OP, "yes", ["create", "events", "-n", OTHER]),
    (OP, "yes", ["watch", "nodes"]),
    (OP, "yes", ["create", "leases.coordination.k8s.io", "-n", NAMESPACE]),
    (OP, "yes", ["update", "leases.coordination.k8s.io/suanli-operator", "-n", NAMESPACE]),
    (OP, "no", ["update", "leases.coordination.k8s.io/suanli-scheduler", "-n", NAMESPACE]),
    (OP, "no", ["update", "leases.coordination.k8s.io/suanli-operator", "-n", OTHER]),
    (OP, "no", ["create", "leases.coordination.k8s.io", "-n", OTHER]),
    (OP, "no", ["get", "secrets", "-n", NAMESPACE]),
    (OP, "no", ["list", "secrets", "-A"]),
    (OP, "no", ["get", "configmaps", "-n", "kube-system"]),
    # An MPI job's objects: created, and only its Service read back.
    (OP, "yes", ["create", "services", "-n", OTHER]),
    (OP, "yes", ["get", "services", "-n", OTHER]),
    (OP, "yes", ["create", "configmaps", "-n", OTHER]),
    (OP, "yes", ["create", "secrets", "-n", OTHER]),
    (OP, "no", ["get", "configmaps", "-n", OTHER]),
    (OP, "no", ["patch", "configmaps", "-n", OTHER]),
    (OP, "no", ["delete", "services", "-n", OTHER]),
    (OP, "no", ["delete", "deployments.apps", "-n", OTHER]),
    (OP, "no", ["create", "deployments.apps", "-n", NAMESPACE]),
    (OP, "no", ["create", "pods", "--subresource=binding", "-n", OTHER]),
    (OP, "no", ["create", "rolebindings.rbac.authorization.k8s.io", "-n", OTHER]),
    (OP, "no", ["create", "validatingwebhookconfigurations.admissionregistration.k8s.io"]),
    # The scheduler: what the stock kube-scheduler may, its own Lease, the auth ConfigMap.
    (SCHED, "yes", ["create", "pods", "--subresource=binding", "-n", OTHER]),
    (SCHED, "yes", ["list", "nodes"]),
    (SCHED, "yes", ["update", "leases.coordination.k8s.io/suanli-scheduler", "-n", NAMESPACE]),
    (SCHED, "yes", ["get", "configmaps/extension-apiserver-authentication", "-n", "kube-system"]),
    (SCHED, "no", ["get", "configmaps/kube-proxy", "-n", "kube-system"]),
    (SCHED, "no", ["get", "configmaps", "-n", OTHER]),
    (SCHED, "no", ["update", "leases.coordination.k8s.io/suanli-operator", "-n", NAMESPACE]),
    (SCHED, "no", ["get", "secrets", "-n", NAMESPACE]),
    (SCHED, "no", ["create", "pods", "-n", OTHER]),
    (SCHED, "no", ["delete", "deployments.apps", "-n", OTHER]),
    # In service mode the scheduler no longer holds the extender's pod patch.
    (SCHED, "no", ["patch", "pods", "-n", OTHER]),
    # The extender: watch nodes and pods, bind, annotate and explain; nothing else.
    (EXT, "yes", ["watch", "pods", "-A"]),
    (EXT, "yes", ["list", "nodes"]),
    (EXT, "yes", ["create", "pods", "--subresource=binding", "-n", OTHER]),
    (EXT, "yes", ["create", "bindings", "-n", OTHER]),
    (EXT, "yes", ["patch", "pods", "-n", OTHER]),
    (EXT, "yes", ["create", "events", "-n", OTHER]),
    (EXT, "no", ["create", "pods", "-n", OTHER]),
    (EXT, "no", ["delete", "pods", "-n", OTHER]),
    (EXT, "no", ["update", "nodes"]),
    (EXT, "no", ["get", "secrets", "-n", NAMESPACE]),
    (EXT, "no", ["list", "secrets", "-A"]),
    (EXT, "no", ["delete", "deployments.apps", "-n", OTHER]),
    (EXT, "no", ["get", "leases.coordination.k8s.io", "-n", NAMESPACE]),
    # Leader election of the replicas: their own Lease, in the release namespace only.
    (EXT, "yes", ["create", "leases.coordination.k8s.io", "-n", NAMESPACE]),
    (EXT, "yes", ["update", "leases.coordination.k8s.io/suanli-extender", "-n", NAMESPACE]),
    (EXT, "no", ["update", "leases.coordination.k8s.io/suanli-scheduler", "-n", NAMESPACE]),
    (EXT, "no", ["update", "leases.coordination.k8s.io/suanli-operator", "-n", NAMESPACE]),
    (EXT, "no", ["create", "leases.coordination.k8s.io", "-n", OTHER]),
    (EXT, "no", ["patch", "computejobs.suanli.dev", "-n", OTHER]),
    # ComputeJobs only to know which pods they own.
    (EXT, "yes", ["watch", "computejobs.suanli.dev", "-A"]),
    (EXT, "no", ["get", "computejobs.suanli.dev", "--subresource=status", "-n", OTHER]),
    (EXT, "no", ["create", "computejobs.suanli.dev", "-n", OTHER]),
    # The web view: reads what it draws, everywhere; writes nothing, reads no Secrets.
    (UI, "yes", ["watch", "nodes"]),
    (UI, "yes", ["list", "pods", "-A"]),
    (UI, "yes", ["watch", "computejobs.suanli.dev", "-A"]),
    (UI, "yes", ["list", "computequeues.suanli.dev"]),
    (UI, "no", ["patch", "pods", "-n", OTHER]),
    (UI, "no", ["create", "events", "-n", OTHER]),
    (UI, "no", ["update", "nodes"]),
    (UI, "no", ["patch", "computejobs.suanli.dev", "-n", OTHER]),
    (UI, "no", ["get", "computejobs.suanli.dev", "--subresource=status", "-n", OTHER]),
    (UI, "no", ["patch", "computequeues.suanli.dev"]),
    (UI, "no", ["get", "secrets", "-n", NAMESPACE]),
    (UI, "no", ["get", "configmaps", "-n", NAMESPACE]),
    (UI, "no", ["create", "pods", "--subresource=binding", "-n", OTHER]),
    (UI, "no", ["get", "leases.coordination.k8s.io", "-n", NAMESPACE]),
    # The policy is the chart's, not something a component may rewrite.
    (OP, "no", ["patch", "validatingadmissionpolicies.admissionregistration.k8s.io"]),
    (EXT, "no", ["delete", "validatingadmissionpolicybindings.admissionregistration.k8s.io"]),
]


@pytest.mark.parametrize(
    ("account", "answer", "question"), CAN_I, ids=[f"{a}:{' '.join(q)}" for a, _, q in CAN_I]
)
def test_service_account_can_i(
    service_mode: Release, account: str, answer: str, question: list[str]
) -> None:
    result = kubectl(
        service_mode.control_plane,
        "auth",
        "can-i",
        *question,
        f"--as=system:serviceaccount:{NAMESPACE}:{account}",
        check=False,
    )
    assert result.stdout.strip() == answer, result.stderr


def test_web_view_runs_with_its_service_accounts_token(
    service_mode: Release, tmp_path: Path
) -> None:
    """`suanli ui` as the chart's account sees the whole fleet: a rule missing from its
    ClusterRole would leave a watch refused and the view never ready."""
    cp = service_mode.control_plane
    kubeconfig = write_token_kubeconfig(cp, NAMESPACE, UI, tmp_path / "ui.yaml")
    port = free_port()
    daemon = Daemon.start(
        "suanli-ui-chart",
        [sys.executable, "-m", "suanli", "ui", f"--kubeconfig={kubeconfig}", f"--port={port}"],
        tmp_path / "ui.log",
    )
    url = f"http://127.0.0.1:{port}"

    def answers(path: str) -> bool:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        daemon.wait_until(lambda: answers("/readyz"), 60, "ready")
        with urllib.request.urlopen(f"{url}/api/view", timeout=10) as response:
            view = json.loads(response.read())
        nodes = json.loads(kubectl(cp, "get", "nodes", "-o", "json").stdout)["items"]
        assert len(view["nodes"]) == len(nodes)
    finally:
        stop(daemon.record())
        daemon.process.wait()


VWC = "validatingwebhookconfigurations.admissionregistration.k8s.io"
# With operator.webhook.enabled: the operator writes its own webhook configuration, nothing else.
WEBHOOK_CAN_I = [
    ("yes", ["create", VWC]),
    ("yes", ["patch", f"{VWC}/suanli.dev"]),
    ("no", ["patch", f"{VWC}/someone-elses"]),
    ("no", ["delete", f"{VWC}/suanli.dev"]),
    ("no", ["create", "mutatingwebhookconfigurations.admissionregistration.k8s.io"]),
    # The certificate Secret is mounted into the pods, never read through the API.
    ("no", ["get", f"secrets/{RELEASE}-operator-webhook", "-n", NAMESPACE]),
]


# --- the programs themselves, running with those credentials ----------------------------------------


@pytest.fixture(scope="class")
def programs(
    service_mode: Release, extender: Extender, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Programs]:
    cp = service_mode.control_plane
    service_mode.upgrade("--set", "operator.webhook.enabled=true")
    running = Programs(cp, NAMESPACE, tmp_path_factory.mktemp("chart-programs"), EXT, webhook=True)
    # The chart's operator must hold the Lease itself: the session's operators stand aside.
    with operators_stopped():
        wait_shared_operator_gone(cp)
        extender.stop()
        try:
            running.start()
            yield running
        finally:
            running.stop()
            extender.start()


@pytest.fixture
def workspace(control_plane: ControlPlane) -> Iterator[str]:
    name = new_namespace(control_plane.core, "chart")
    yield name
    kubectl(
        control_plane, "delete", "computejobs", "--all", "-n", name, "--wait=false", check=False
    )
    delete_namespace_and_wait(control_plane.core, name, timeout=120)


class TestProgramsAsServiceAccounts:
    def test_extender_places_binds_and_explains(
        self, programs: Programs, workspace: str, tmp_path: Path
    ) -> None:
        core = programs.control_plane.core
        # Pods as the operator makes them: sent with its token (the chart's admission policy
        # refuses their demand from anyone else) and owned by a ComputeJob the extender knows.
        as_operator = core_api(
            write_token_kubeconfig(programs.control_plane, NAMESPACE, OP, tmp_path / "op.yaml")
        )
        owner = owning_job(core, workspace)
        cases = [
            ("h100", {"acceleratorTypes": ["H100"]}, 8, "NVIDIA-H100-80GB-HBM3"),
            ("l40s", {"acceleratorTypes": ["L40S"]}, 1, "NVIDIA-L40S"),
        ]
        for name, demand, gpus, product in cases:
            as_operator.create_namespaced_pod(
                workspace, suanli_pod(name, demand=demand, gpus=gpus, owner=owner)
            )
            assert node_labels(core, node_of(core, workspace, name))[GPU_PRODUCT] == product
            # The placement annotation and the event need pods patch and events create.
            eventually(
                lambda n=name: (
                    "suanli.dev/placement"
                    in ((raw_pod(core, workspace, n) or {})["metadata"].get("annotations") or {})
                ),
                30,
                f"{name} explained",
            )
        events = kubectl(programs.control_plane, "get", "events", "-n", workspace).stdout
        assert "Placed" in events
        assert forbidden_lines(programs.extender_log) == []

    def test_operator_runs_a_job_to_completion_and_cleans_it_up(
        self, programs: Programs, workspace: str
    ) -> None:
        assert programs.operator_port, "the chart's operator runs"
        cp = programs.control_plane
        job = {
            "apiVersion": "suanli.dev/v1alpha1",
            "kind": "ComputeJob",
            "metadata": {"name": "rbac-proof", "namespace": workspace},
            "spec": {
                "workload": "training",
                "gang": {"minMember": 2},
                "runPolicy": {"ttlSecondsAfterFinished": 5},
                "tasks": [
                    {
                        "name": "worker",
                        "replicas": 2,
                        "accelerators": {"count": 4, "types": ["A100"]},
                        "template": {
                            "metadata": {"annotations": {"suanli.dev/run-duration": "5s"}},
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": "w",
                                        "image": "busybox",
                                        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                                    }
                                ],
                            },
                        },
                    }
                ],
            },
        }
        kubectl(cp, "apply", "-f", "-", stdin=json.dumps(job))
        last: dict[str, Any] = {}

        def finished_and_gone() -> bool:
            result = kubectl(
                cp, "get", "computejob", "rbac-proof", "-n", workspace, "-o", "json", check=False
            )
            if result.returncode != 0:
                return "NotFound" in result.stderr
            last.update(json.loads(result.stdout).get("status") or {})
            return False

        # Succeeded needs pods create, status patch and events; gone needs delete.
        try:
            eventually(finished_and_gone, 120, "the job succeed and be deleted after its TTL")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log_tail(programs.operator_log, 30)}") from None
        # The last status seen before the TTL removed the job: placed, run, finished.
        assert last.get("phase") == "Succeeded", last
        assert len(last.get("placements") or []) == 2, last
        assert last.get("completionTime"), last
        metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{programs.operator_port}/metrics", timeout=5)
            .read()
            .decode()
        )
        created = re.search(r"^suanli_operator_pods_created_total (\S+)$", metrics, re.MULTILINE)
        assert created, metrics
        assert float(created.group(1)) >= 2
        assert forbidden_lines(programs.operator_log) == []

    def test_operator_webhook_refuses_what_the_catalog_cannot_serve(
        self, programs: Programs, workspace: str
    ) -> None:
        assert programs.operator_port, "the chart's operator runs"
        cp = programs.control_plane
        job = {
            "apiVersion": "suanli.dev/v1alpha1",
            "kind": "ComputeJob",
            "metadata": {"name": "unknown-type", "namespace": workspace},
            "spec": {
                "workload": "training",
                "tasks": [
                    {
                        "name": "worker",
                        "replicas": 1,
                        "accelerators": {"count": 1, "types": ["H1000"]},
                        "template": {"spec": {"containers": [{"name": "w", "image": "busybox"}]}},
                    }
                ],
            },
        }

        def refused() -> str | bool:
            result = kubectl(
                cp, "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(job), check=False
            )
            return (
                result.returncode != 0 and "denied the request" in result.stderr and result.stderr
            )

        # The operator registers the webhook (create, or patch) as soon as it serves it.
        message = eventually(refused, 60, "the webhook refusing an unknown accelerator type")
        assert "unknown accelerator type" in message
        kubectl(cp, "get", "validatingwebhookconfiguration", "suanli.dev")
        assert forbidden_lines(programs.operator_log) == []

    @pytest.mark.parametrize(
        ("answer", "question"), WEBHOOK_CAN_I, ids=[" ".join(q) for _, q in WEBHOOK_CAN_I]
    )
    def test_with_the_webhook_the_operator_may_write_only_its_configuration(
        self, programs: Programs, answer: str, question: list[str]
    ) -> None:
        result = kubectl(
            programs.control_plane,
            "auth",
            "can-i",
            *question,
            f"--as=system:serviceaccount:{NAMESPACE}:{OP}",
            check=False,
        )
        assert result.stdout.strip() == answer, result.stderr

    def test_kube_scheduler_runs_with_the_chart_configuration(
        self, programs: Programs, workspace: str, tmp_path: Path
    ) -> None:
        """The chart's KubeSchedulerConfiguration in a real kube-scheduler, as the chart's SA.

        Changed only where a process outside a pod must differ: the kubeconfig (no in-cluster
        token file), the extender's address (no cluster DNS here) and the profile's name (the
        local control plane already runs a "suanli-scheduler").
        """
        cp = programs.control_plane
        config = yaml.safe_load(
            cp.core.read_namespaced_config_map(f"{RELEASE}-scheduler-config", NAMESPACE).data[
                "config.yaml"
            ]
        )
        kubeconfig = write_token_kubeconfig(cp, NAMESPACE, SCHED, tmp_path / "sched.yaml")
        config["clientConnection"]["kubeconfig"] = str(kubeconfig)
        # Pointed at the session's extender, which serves plain HTTP on loopback.
        config["extenders"][0]["urlPrefix"] = f"http://127.0.0.1:{cp.state.ports.extender}"
        config["extenders"][0]["enableHTTPS"] = False
        config["extenders"][0].pop("tlsConfig", None)
        config["profiles"][0]["schedulerName"] = "suanli-chart-check"
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        port = free_port()
        scheduler = Daemon.start(
            "chart-kube-scheduler",
            [
                str(bin_dir() / "kube-scheduler"),
                f"--config={tmp_path / 'config.yaml'}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                # Fail instead of warn when the client CA ConfigMap cannot be read (RBAC).
                "--authentication-tolerate-lookup-failure=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
            ],
            tmp_path / "kube-scheduler.log",
        )
        leases = client.CoordinationV1Api(cp.core.api_client)

        def leading() -> bool:
            try:
                lease = leases.read_namespaced_lease("suanli-scheduler", NAMESPACE)
            except client.ApiException as error:
                if error.status == 404:
                    return False
                raise
            return bool(lease.spec.holder_identity)

        try:
            scheduler.wait_until(leading, 60, "the leader of its own Lease")
            pod = suanli_pod("checked", cpu="1")
            pod["spec"]["schedulerName"] = "suanli-chart-check"
            cp.core.create_namespaced_pod(workspace, pod)
            assert node_of(cp.core, workspace, "checked", timeout=60)
        finally:
            stop(scheduler.record())
            scheduler.process.wait()
        assert forbidden_lines(tmp_path / "kube-scheduler.log") == []


# --- uninstall ---------------------------------------------------------------------------------------


def _leftovers(control_plane: ControlPlane, namespace: str) -> list[str]:
    """Every object of the release still in the cluster, namespaced or not."""
    resources = kubectl(control_plane, "api-resources", "--verbs=list", "-o", "name").stdout.split()
    listed = kubectl(
        control_plane, "get", ",".join(resources), "-A", "-l", INSTANCE, "-o", "name", check=False
    )
    found = [line for line in listed.stdout.splitlines() if line.strip()]
    # Runtime objects the programs create are not the chart's: the Leases in its namespace.
    namespaced = kubectl(
        control_plane, "api-resources", "--verbs=list", "--namespaced=true", "-o", "name"
    ).stdout.split()
    everything = kubectl(
        control_plane,
        "get",
        ",".join(r for r in namespaced if r not in ("events", "events.events.k8s.io")),
        "-n",
        namespace,
        "-o",
        "name",
        check=False,
    )
    expected_runtime = (
        "lease.coordination.k8s.io/",
        "serviceaccount/default",
        "configmap/kube-root-ca.crt",
    )
    found += [
        line
        for line in everything.stdout.splitlines()
        if line.strip() and not line.startswith(expected_runtime)
    ]
    return sorted(set(found))


def test_uninstall_leaves_nothing_but_the_kept_crd(release: Release) -> None:
    cp = release.control_plane
    objects = manifest_objects(cp, NAMESPACE)
    helm_ok(cp, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout=120s")
    eventually(
        lambda: (
            _leftovers(cp, NAMESPACE)
            == sorted(f"customresourcedefinition.apiextensions.k8s.io/{crd}" for crd in CRDS)
        ),
        60,
        "only the CRDs left",
    )
    for obj in objects:
        exists = kubectl(cp, "get", *ref(obj, NAMESPACE), check=False).returncode == 0
        assert exists is (obj["kind"] == "CustomResourceDefinition"), obj["metadata"]["name"]
    # crds.keep=false: the CRD goes with the release (the kept one is adopted back first).
    helm_ok(
        cp,
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--set",
        "crds.keep=false",
        "--wait",
        "--timeout=180s",
    )
    helm_ok(cp, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout=120s")
    for crd in CRDS:
        eventually(
            lambda crd=crd: kubectl(cp, "get", "crd", crd, check=False).returncode != 0,
            120,
            f"{crd} deleted",
        )
    eventually(lambda: _leftovers(cp, NAMESPACE) == [], 60, "nothing left")


# --- the README quickstart ----------------------------------------------------------------------------


def _quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Install on a cluster") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "no ```sh block in the README's install section"
    return match.group(1)


def test_readme_quickstart(control_plane: ControlPlane, extender: Extender, tmp_path: Path) -> None:
    """The quickstart's kubectl and helm commands, run as written against the local control plane.

    kind and docker cannot run here (no container engine): stand-ins record their arguments,
    which are then checked against the files they name. The namespace is renamed so that the
    test cannot collide with anything else in the session, and the chart's pods (KWOK fakes) are
    stood in for by the two programs running with the release's ServiceAccount tokens.
    """
    script = _quickstart().replace("suanli-system", QUICKSTART_NAMESPACE)
    lines = script.splitlines(keepends=True)
    split = next(i for i, line in enumerate(lines) if line.startswith("helm install")) + 1
    before, after = "".join(lines[:split]), "".join(lines[split:])
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls.log"
    for tool in ("kind", "docker"):
        (stubs / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        (stubs / tool).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{stubs}:{bin_dir()}:{os.environ['PATH']}",
        "KUBECONFIG": str(control_plane.kubeconfig),
        "HELM_CACHE_HOME": str(tmp_path / "helm"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm"),
        "HELM_DATA_HOME": str(tmp_path / "helm"),
    }

    def run(part: str) -> str:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", part],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, (
            f"{part}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        return result.stdout

    if (
        kubectl(control_plane, "get", "namespace", QUICKSTART_NAMESPACE, check=False).returncode
        == 0
    ):
        kubectl(control_plane, "delete", "namespace", QUICKSTART_NAMESPACE, "--timeout=120s")
    adopt_crd(control_plane, QUICKSTART_NAMESPACE)
    programs = Programs(control_plane, QUICKSTART_NAMESPACE, tmp_path / "programs", SCHED)
    # The chart's operator must hold the Lease itself: the session's operators stand aside.
    advertised = {
        node.metadata.name: node.status.allocatable.get("nvidia.com/gpu")
        for node in control_plane.core.list_node(label_selector="nvidia.com/gpu.count").items
    }
    with operators_stopped():
        wait_shared_operator_gone(control_plane)
        extender.stop()
        try:
            run(before)
            # Sidecar mode (the default): the extender runs as the scheduler's ServiceAccount.
            programs.start()
            output = run(after)
        finally:
            programs.stop()
            extender.start()
            kubectl(
                control_plane,
                "delete",
                "computejob",
                "quickstart",
                "-n",
                "default",
                "--wait=true",
                check=False,
            )
            eventually(
                lambda: (
                    not control_plane.core.list_namespaced_pod(
                        "default", label_selector="suanli.dev/job=quickstart"
                    ).items
                ),
                60,
                "quickstart pods gone",
            )
            helm(
                "uninstall",
                RELEASE,
                "-n",
                QUICKSTART_NAMESPACE,
                "--wait",
                kubeconfig=control_plane.kubeconfig,
            )
            kubectl(
                control_plane,
                "delete",
                "namespace",
                QUICKSTART_NAMESPACE,
                "--timeout=120s",
                check=False,
            )
    assert re.search(r"quickstart\s+Running", output), output
    assert forbidden_lines(programs.extender_log) == []
    assert forbidden_lines(programs.operator_log) == []
    recorded = calls.read_text().splitlines()
    image = render().get("Deployment", "suanli-operator")["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    kind_config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert recorded == [
        "kind create cluster --config kind-config.yaml",
        f"docker build -t {image} .",
        f"kind load docker-image {image} --name {kind_config['name']}",
    ]
    assert (ROOT / "Dockerfile").is_file()
    # The GPU step advertises what the labels claim where nothing advertises GPUs yet, and
    # leaves alone a node that does (here every KWOK node does; HAMi's advertise vGPUs).
    for node in control_plane.core.list_node(label_selector="nvidia.com/gpu.count").items:
        before_step = advertised[node.metadata.name]
        assert node.status.allocatable["nvidia.com/gpu"] == (
            before_step or node.metadata.labels["nvidia.com/gpu.count"]
        ), node.metadata.name
