"""The chart as rendered by `helm template`: objects, security, RBAC, wiring between them."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

import suanli
from suanli.cli import build_parser
from suanli.devcluster.pki import CertificateAuthority
from suanli.scoring import parse_catalog, parse_data_policy, parse_latency
from tests.unit.chart.helm import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    SCENARIOS,
    Manifest,
    bin_dir,
    helm,
    render,
    render_error,
)

DEFAULT = "default"
SCENARIO_IDS = [DEFAULT, *(p.stem for p in SCENARIOS)]
SCENARIO_FILES = {DEFAULT: (), **{p.stem: (p,) for p in SCENARIOS}}
SUANLI_IMAGE = f"ghcr.io/suanli/suanli:{suanli.__version__}"
SCHEDULER_CONTAINER = "kube-scheduler"


def _scenario(name: str) -> Manifest:
    return render(*SCENARIO_FILES[name])


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


# --- every scenario renders and lints ---------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_lint_is_clean(scenario: str) -> None:
    args = [arg for path in SCENARIO_FILES[scenario] for arg in ("--values", str(path))]
    result = helm("lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_objects_are_labelled_and_namespaced(scenario: str) -> None:
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    # A RoleBinding to the stock Role in kube-system; the dashboard goes where Grafana looks.
    elsewhere = {
        ("RoleBinding", "suanli-scheduler-authentication-reader"),
        ("ConfigMap", "suanli-dashboard"),
    }
    for obj in _scenario(scenario).objects:
        metadata = obj["metadata"]
        labels = metadata["labels"]
        assert labels["app.kubernetes.io/instance"] == "suanli", metadata["name"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", metadata["name"]
        assert labels["app.kubernetes.io/part-of"] == "suanli", metadata["name"]
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in metadata, metadata["name"]
        elif (obj["kind"], metadata["name"]) not in elsewhere:
            assert metadata["namespace"] == NAMESPACE, metadata["name"]


def test_default_install_creates_exactly_these_objects() -> None:
    assert render().names() == {
        ("CustomResourceDefinition", "computejobs.suanli.dev"),
        ("CustomResourceDefinition", "computequeues.suanli.dev"),
        ("ConfigMap", "suanli-catalog"),
        ("ConfigMap", "suanli-scheduler-config"),
        ("ServiceAccount", "suanli-operator"),
        ("ClusterRole", "suanli-operator"),
        ("ClusterRoleBinding", "suanli-operator"),
        ("Role", "suanli-operator-leader-election"),
        ("RoleBinding", "suanli-operator-leader-election"),
        ("Deployment", "suanli-operator"),
        ("Service", "suanli-operator"),
        ("PodDisruptionBudget", "suanli-operator"),
        ("ServiceAccount", "suanli-scheduler"),
        ("ClusterRoleBinding", "suanli-scheduler-kube-scheduler"),
        ("ClusterRoleBinding", "suanli-scheduler-volume-scheduler"),
        ("Role", "suanli-scheduler-leader-election"),
        ("RoleBinding", "suanli-scheduler-leader-election"),
        ("RoleBinding", "suanli-scheduler-authentication-reader"),
        ("ClusterRole", "suanli-extender"),
        ("ClusterRoleBinding", "suanli-extender"),
        ("ValidatingAdmissionPolicy", "suanli-scheduling"),
        ("ValidatingAdmissionPolicyBinding", "suanli-scheduling"),
        ("Deployment", "suanli-scheduler"),
        ("PodDisruptionBudget", "suanli-scheduler"),
    }


# --- restricted Pod Security ------------------------------------------------------------------

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


Check = tuple[str, Any]
# (what is wrong, test on (container securityContext, pod securityContext, container)).
CONTAINER_CHECKS: list[Check] = [
    ("privileged", lambda c, p, _: c.get("privileged")),
    (
        "allowPrivilegeEscalation is not false",
        lambda c, p, _: c.get("allowPrivilegeEscalation") is not False,
    ),
    (
        "capabilities do not drop ALL",
        lambda c, p, _: "ALL" not in c.get("capabilities", {}).get("drop", []),
    ),
    (
        "adds capabilities",
        lambda c, p, _: set(c.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"},
    ),
    ("runAsNonRoot is not true", lambda c, p, _: not c.get("runAsNonRoot", p.get("runAsNonRoot"))),
    ("runs as uid 0", lambda c, p, _: c.get("runAsUser", p.get("runAsUser")) == 0),
    (
        "seccompProfile is not RuntimeDefault",
        lambda c, p, _: (
            c.get("seccompProfile", p.get("seccompProfile", {})).get("type")
            not in ("RuntimeDefault", "Localhost")
        ),
    ),
    ("root filesystem is writable", lambda c, p, _: not c.get("readOnlyRootFilesystem")),
    ("hostPort", lambda c, p, container: any("hostPort" in x for x in container.get("ports", []))),
    (
        "no resource requests",
        lambda c, p, container: not container.get("resources", {}).get("requests"),
    ),
]


def _restricted_violations(spec: dict[str, Any]) -> list[str]:
    """The checks of the "restricted" Pod Security Standard, plus a read-only root filesystem."""
    pod = spec.get("securityContext", {})
    problems = [
        f"host namespace {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)
    ]
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']} of type {kinds}")
    for container in _containers(spec):
        context = container.get("securityContext", {})
        problems += [
            f"{container['name']}: {what}"
            for what, wrong in CONTAINER_CHECKS
            if wrong(context, pod, container)
        ]
    return problems


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_every_pod_meets_the_restricted_pod_security_standard(scenario: str) -> None:
    for name, spec in _scenario(scenario).pod_specs():
        assert _restricted_violations(spec) == [], name


def test_the_restricted_check_catches_what_it_should() -> None:
    # The checker above is only as good as its own failures: feed it the usual mistakes.
    spec = render().get("Deployment", "suanli-operator")["spec"]["template"]["spec"]
    bad = yaml.safe_load(yaml.safe_dump(spec))
    bad["hostNetwork"] = True
    bad["securityContext"] = {}
    bad["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    bad["containers"][0]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
    problems = "\n".join(_restricted_violations(bad))
    for expected in (
        "hostNetwork",
        "hostPath",
        "allowPrivilegeEscalation",
        "drop ALL",
        "adds capabilities",
        "runAsNonRoot",
        "seccompProfile",
        "root filesystem",
    ):
        assert expected in problems


# --- RBAC: exactly the contract, nothing more ----------------------------------------------------

Rule = tuple[str, str, str, str]  # api group, resource, verb, resource name ("" = any)


def _rules(role: dict[str, Any]) -> set[Rule]:
    return {
        (group, resource, verb, name)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames", [""])
    }


def _grant(group: str, resources_: str, verbs: str, name: str = "") -> set[Rule]:
    return {(group, r, v, name) for r in resources_.split() for v in verbs.split()}


OPERATOR_RULES = (
    _grant("suanli.dev", "computejobs", "get list watch patch update delete")
    | _grant("suanli.dev", "computejobs/status", "get patch update")
    | _grant("suanli.dev", "computejobs/finalizers", "update")
    | _grant("suanli.dev", "computequeues", "get list watch")
    | _grant("suanli.dev", "computequeues/status", "get patch update")
    | _grant("scheduling.k8s.io", "priorityclasses", "get list watch")
    | _grant("", "pods", "get list watch create delete patch")
    | _grant("", "services", "get create")
    | _grant("", "configmaps secrets", "create")
    | _grant("", "events", "create patch")
    | _grant("events.k8s.io", "events", "create patch")
    | _grant("", "nodes", "get list watch")
    | _grant("apiextensions.k8s.io", "customresourcedefinitions", "get list watch")
    | _grant("", "namespaces", "get list watch")
)
OPERATOR_WEBHOOK_RULES = _grant(
    "admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"
) | _grant("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch", "suanli.dev")
EXTENDER_RULES = (
    _grant("", "nodes", "get list watch")
    | _grant("", "pods", "get list watch patch")
    | _grant("", "pods/binding bindings", "create")
    | _grant("suanli.dev", "computejobs", "get list watch")
    | _grant("", "events", "create patch")
    | _grant("events.k8s.io", "events", "create patch")
)

# The web view reads what it draws and writes nothing.
UI_RULES = _grant("", "nodes pods", "get list watch") | _grant(
    "suanli.dev", "computejobs computequeues", "get list watch"
)


@pytest.mark.parametrize(
    ("values", "role", "expected"),
    [
        ({}, "suanli-operator", OPERATOR_RULES),
        (
            {"operator.webhook.enabled": True},
            "suanli-operator",
            OPERATOR_RULES | OPERATOR_WEBHOOK_RULES,
        ),
        ({}, "suanli-extender", EXTENDER_RULES),
        ({"extender.mode": "service"}, "suanli-extender", EXTENDER_RULES),
        ({"ui.enabled": True}, "suanli-ui", UI_RULES),
    ],
    ids=["operator", "operator-webhook", "extender", "extender-service", "ui"],
)
def test_cluster_roles_grant_exactly_the_contract(
    values: dict[str, Any], role: str, expected: set[Rule]
) -> None:
    assert _rules(render(values=values).get("ClusterRole", role)) == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "suanli-operator-leader-election",
            _grant("coordination.k8s.io", "leases", "create")
            | _grant("coordination.k8s.io", "leases", "get update", "suanli-operator"),
        ),
        (
            "suanli-scheduler-leader-election",
            _grant("coordination.k8s.io", "leases", "create")
            | _grant("coordination.k8s.io", "leases", "get update list watch", "suanli-scheduler"),
        ),
    ],
)
def test_leader_election_roles_are_namespaced_to_the_release(
    role: str, expected: set[Rule]
) -> None:
    rendered = render().get("Role", role)
    assert rendered["metadata"]["namespace"] == NAMESPACE
    assert _rules(rendered) == expected


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_no_role_reads_secrets_or_uses_wildcards(scenario: str) -> None:
    for role in [*_scenario(scenario).kinds("ClusterRole"), *_scenario(scenario).kinds("Role")]:
        for group, resource, verb, _ in _rules(role):
            assert "*" not in (group, resource, verb), role["metadata"]["name"]
            # The operator creates MPI jobs' SSH key pairs; nothing reads or changes a Secret.
            assert resource != "secrets" or verb == "create", role["metadata"]["name"]


@pytest.mark.parametrize(
    ("mode", "extender_subject"),
    [("sidecar", "suanli-scheduler"), ("service", "suanli-extender")],
)
def test_bindings_name_the_service_account_each_component_runs_as(
    mode: str, extender_subject: str
) -> None:
    manifest = render(values={"extender.mode": mode})
    subjects = {
        binding["metadata"]["name"]: [(s["name"], s["namespace"]) for s in binding["subjects"]]
        for binding in [*manifest.kinds("ClusterRoleBinding"), *manifest.kinds("RoleBinding")]
    }
    assert subjects["suanli-extender"] == [(extender_subject, NAMESPACE)]
    assert subjects["suanli-operator"] == [("suanli-operator", NAMESPACE)]
    for name in (
        "suanli-scheduler-kube-scheduler",
        "suanli-scheduler-volume-scheduler",
        "suanli-scheduler-leader-election",
        "suanli-scheduler-authentication-reader",
    ):
        assert subjects[name] == [("suanli-scheduler", NAMESPACE)]
    run_as = {name: spec["serviceAccountName"] for name, spec in manifest.pod_specs()}
    assert run_as.get("suanli-extender", "suanli-scheduler") == extender_subject
    stock = manifest.get("ClusterRoleBinding", "suanli-scheduler-kube-scheduler")["roleRef"]
    assert stock["name"] == "system:kube-scheduler"


@pytest.mark.parametrize(("enabled", "objects"), [(False, 0), (True, 5)])
def test_the_web_view_is_off_by_default_and_runs_as_its_own_account(
    enabled: bool, objects: int
) -> None:
    manifest = render(values={"ui.enabled": enabled})
    mine = {(kind, name) for kind, name in manifest.names() if name == "suanli-ui"}
    assert len(mine) == objects
    if enabled:
        run_as = dict(manifest.pod_specs())["suanli-ui"]["serviceAccountName"]
        subjects = manifest.get("ClusterRoleBinding", "suanli-ui")["subjects"]
        assert [(s["name"], s["namespace"]) for s in subjects] == [(run_as, NAMESPACE)]
        assert manifest.get("Service", "suanli-ui")["spec"]["type"] == "ClusterIP"


def test_existing_service_accounts_are_used_and_bound_not_created() -> None:
    manifest = render(*SCENARIO_FILES["platform-values"])
    accounts = {sa["metadata"]["name"] for sa in manifest.kinds("ServiceAccount")}
    assert accounts == set()
    run_as = {name: spec["serviceAccountName"] for name, spec in manifest.pod_specs()}
    assert run_as == {
        "suanli-operator": "suanli-operator-precreated",
        "suanli-scheduler": "suanli-scheduler-precreated",
    }
    binding = manifest.get("ClusterRoleBinding", "suanli-operator")
    assert binding["subjects"][0]["name"] == "suanli-operator-precreated"


# --- the scheduler's configuration, read by the real kube-scheduler --------------------------------


def _scheduler_config(manifest: Manifest) -> dict[str, Any]:
    return dict(manifest.configmap_yaml("suanli-scheduler-config", "config.yaml"))


@pytest.mark.parametrize("scenario", [s for s in SCENARIO_IDS if s != DEFAULT] + [DEFAULT])
def test_kube_scheduler_accepts_the_configuration(scenario: str, tmp_path: Path) -> None:
    manifest = _scenario(scenario)
    config = _scheduler_config(manifest)
    # kube-scheduler decodes strictly and validates before --write-config-to writes and exits;
    # it needs some kubeconfig (never dialled) and the CA file it would read at start.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    config["clientConnection"]["kubeconfig"] = str(kubeconfig)
    for extender in config["extenders"]:
        if "tlsConfig" in extender:
            # It loads the client certificate at start: a real one, from a CA of the test's.
            authority = CertificateAuthority(tmp_path / "pki")
            client_pair = authority.issue("scheduler", "suanli-scheduler")
            extender["tlsConfig"] |= {
                "caFile": str(authority.pair.cert),
                "certFile": str(client_pair.cert),
                "keyFile": str(client_pair.key),
            }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            str(bin_dir() / "kube-scheduler"),
            f"--config={tmp_path / 'config.yaml'}",
            f"--write-config-to={tmp_path / 'out.yaml'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load((tmp_path / "out.yaml").read_text())
    assert [p["schedulerName"] for p in written["profiles"]] == ["suanli-scheduler"]


@pytest.mark.parametrize(
    ("values", "url", "https"),
    [
        ({}, "http://127.0.0.1:8888", False),
        ({"extender.port": 9999}, "http://127.0.0.1:9999", False),
        ({"extender.mode": "service"}, "https://suanli-extender.suanli-system.svc:8888", True),
        (
            {
                "extender.mode": "service",
                "extender.tls": {"enabled": True, "secretName": "tls", "clientSecretName": "c"},
            },
            "https://suanli-extender.suanli-system.svc:8888",
            True,
        ),
        (
            {"extender.mode": "service", "extender.tls.enabled": False},
            "http://suanli-extender.suanli-system.svc:8888",
            False,
        ),
    ],
    ids=["sidecar", "sidecar-port", "service", "service-own-secrets", "service-plain-http"],
)
def test_kube_scheduler_calls_the_extender_where_it_listens(
    values: dict[str, Any], url: str, https: bool
) -> None:
    config = _scheduler_config(render(values=values))
    (extender,) = config["extenders"]
    assert extender["urlPrefix"] == url
    assert extender["enableHTTPS"] is https
    assert extender["nodeCacheCapable"] is True
    assert (extender["filterVerb"], extender["prioritizeVerb"], extender["bindVerb"]) == (
        "filter",
        "prioritize",
        "bind",
    )
    assert config["leaderElection"]["resourceNamespace"] == NAMESPACE


def test_profile_extras_merge_but_the_scheduler_name_stays() -> None:
    config = _scheduler_config(render(*SCENARIO_FILES["scheduler-only-values"]))
    (profile,) = config["profiles"]
    assert profile["schedulerName"] == "suanli-scheduler"
    assert profile["percentageOfNodesToScore"] == 50
    error = render_error(values={"scheduler.profile": {"schedulerName": "other"}})
    assert "schedulerName" in error


# --- the Suanli containers: their flags exist, their files are mounted ------------------------------


def _suanli_containers(manifest: Manifest) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (name, spec, container)
        for name, spec in manifest.pod_specs()
        for container in spec["containers"]
        if container["name"] != SCHEDULER_CONTAINER
    ]


def _parse(args: list[str]) -> argparse.Namespace:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        try:
            return build_parser().parse_args(args)
        except SystemExit:
            message = errors.getvalue()
    raise AssertionError(f"suanli {' '.join(args)}: {message}")


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_suanli_accepts_the_arguments_the_chart_passes(scenario: str) -> None:
    for name, _, container in _suanli_containers(_scenario(scenario)):
        args = _parse(container["args"])
        assert args.command == container["args"][0], name


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_every_file_a_container_is_given_is_mounted(scenario: str) -> None:
    manifest = _scenario(scenario)
    for name, spec, container in [
        (name, pod, c) for name, pod in manifest.pod_specs() for c in pod["containers"]
    ]:
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
        given = [
            arg
            for arg in [*container.get("args", []), *container.get("command", [])]
            if "=/" in arg and arg.startswith("--") and not arg.startswith("--host")
        ]
        # A folder of files (the webhook's certificate) is a volume mounted there.
        folders = [a.split("=", 1)[1] for a in given if a.startswith("--webhook-cert-dir=")]
        for folder in folders:
            assert "secret" in mounts.get(folder, {}), f"{name}/{container['name']}: {folder}"
        files = [a.split("=", 1)[1] for a in given if not a.startswith("--webhook-cert-dir=")]
        for file in files:
            folder, _, key = file.rpartition("/")
            assert folder in mounts, f"{name}/{container['name']}: {file} is not mounted"
            volume = mounts[folder]
            if "configMap" in volume:
                data = manifest.get("ConfigMap", volume["configMap"]["name"])["data"]
                assert key in data, f"{name}/{container['name']}: {file} not in the ConfigMap"
            else:
                assert key in ("tls.crt", "tls.key", "ca.crt"), file


def test_a_service_mode_extender_gets_mutual_tls_from_certificates_the_chart_makes() -> None:
    manifest = render(values={"extender.mode": "service"})
    serving = manifest.get("Secret", "suanli-extender-tls")["data"]
    client = manifest.get("Secret", "suanli-extender-client-tls")["data"]

    def cert(data: dict[str, str], key: str = "tls.crt") -> x509.Certificate:
        return x509.load_pem_x509_certificate(base64.b64decode(data[key]))

    authority = cert(serving, "ca.crt")
    assert cert(client, "ca.crt") == authority
    for issued in (cert(serving), cert(client)):
        issued.verify_directly_issued_by(authority)  # raises unless that CA signed it
    names = cert(serving).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["suanli-extender.suanli-system.svc"]
    usage = cert(client).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage  # accepted for client auth
    # The scheduler presents the client certificate and checks the extender against the CA.
    scheduler = manifest.get("Deployment", "suanli-scheduler")["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in scheduler["volumes"] if "secret" in v] == [
        "suanli-extender-tls",
        "suanli-extender-client-tls",
    ]
    extender = manifest.get("Deployment", "suanli-extender")["spec"]["template"]["spec"]
    assert "--tls-client-ca-file=/etc/suanli/tls/ca.crt" in extender["containers"][0]["args"]
    # Secrets named by the user replace the chart's own; plain HTTP makes none.
    own = render(*SCENARIO_FILES["service-tls-values"])
    plain = render(values={"extender.mode": "service", "extender.tls.enabled": False})
    for other in (own, plain, render()):
        assert not other.has("Secret", "suanli-extender-tls")
        assert not other.has("Secret", "suanli-extender-client-tls")


def test_the_scheduler_holds_the_extender_ca_and_its_client_certificate_never_the_key() -> None:
    manifest = render(*SCENARIO_FILES["service-tls-values"])
    scheduler = manifest.get("Deployment", "suanli-scheduler")["spec"]["template"]["spec"]
    secrets = [v["secret"] for v in scheduler["volumes"] if "secret" in v]
    assert secrets == [
        {"secretName": "suanli-extender-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]},
        {"secretName": "suanli-scheduler-client-tls"},
    ]
    config = _scheduler_config(manifest)
    assert config["extenders"][0]["tlsConfig"] == {
        "caFile": "/etc/suanli/extender-tls/ca.crt",
        "certFile": "/etc/suanli/extender-client-tls/tls.crt",
        "keyFile": "/etc/suanli/extender-client-tls/tls.key",
        "serverName": "suanli-extender.suanli-system.svc",
    }
    # The extender asks every client for a certificate of that CA, the replicas included.
    extender = manifest.get("Deployment", "suanli-extender")["spec"]["template"]["spec"]
    args = extender["containers"][0]["args"]
    assert "--tls-client-ca-file=/etc/suanli/tls/ca.crt" in args
    assert "--peer-cert-file=/etc/suanli/client-tls/tls.crt" in args
    assert "--peer-server-name=suanli-extender.suanli-system.svc" in args


@pytest.mark.parametrize(
    ("values", "containers", "service_selects"),
    [
        ({}, {"suanli-scheduler": ["kube-scheduler", "extender"]}, None),
        (
            {"extender.listenAddress": "0.0.0.0"},
            {"suanli-scheduler": ["kube-scheduler", "extender"]},
            "scheduler",
        ),
        (
            {"extender.mode": "service"},
            {"suanli-scheduler": ["kube-scheduler"], "suanli-extender": ["extender"]},
            "extender",
        ),
    ],
    ids=["sidecar-loopback", "sidecar-scrapable", "service"],
)
def test_extender_modes(
    values: dict[str, Any], containers: dict[str, list[str]], service_selects: str | None
) -> None:
    manifest = render(values={"operator.enabled": False, **values})
    assert {
        name: [c["name"] for c in spec["containers"]] for name, spec in manifest.pod_specs()
    } == containers
    if service_selects is None:
        # Nothing outside the pod may call a sidecar's /bind.
        assert not manifest.has("Service", "suanli-extender")
    else:
        service = manifest.get("Service", "suanli-extender")
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == service_selects


def test_a_loopback_sidecar_is_probed_from_inside_its_container() -> None:
    # The kubelet probes the pod IP, which a 127.0.0.1 listener does not answer.
    for values, kind in (({}, "exec"), ({"extender.listenAddress": "0.0.0.0"}, "httpGet")):
        spec = render(values=values).get("Deployment", "suanli-scheduler")["spec"]["template"][
            "spec"
        ]
        extender = next(c for c in spec["containers"] if c["name"] == "extender")
        assert kind in extender["readinessProbe"], values
        assert kind in extender["livenessProbe"], values


# --- images -----------------------------------------------------------------------------------------


def _images(manifest: Manifest) -> dict[str, str]:
    return {c["name"]: c["image"] for _, spec in manifest.pod_specs() for c in spec["containers"]}


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == suanli.__version__
    assert _images(render())["operator"] == SUANLI_IMAGE
    assert _images(render())["extender"] == SUANLI_IMAGE


@pytest.mark.parametrize(
    ("kube_version", "values", "expected"),
    [
        ("v1.37.2", {}, "registry.k8s.io/kube-scheduler:v1.37.2"),
        ("v1.31.2-eks-7f9249a", {}, "registry.k8s.io/kube-scheduler:v1.31.2"),
        ("v1.30.5-gke.1014001", {}, "registry.k8s.io/kube-scheduler:v1.30.5"),
        ("v1.37.2", {"scheduler.image.tag": "v1.36.4"}, "registry.k8s.io/kube-scheduler:v1.36.4"),
        (
            "v1.37.2",
            {"scheduler.image.digest": "sha256:" + "a" * 64},
            "registry.k8s.io/kube-scheduler@sha256:" + "a" * 64,
        ),
    ],
)
def test_kube_scheduler_image_follows_the_cluster_version(
    kube_version: str, values: dict[str, Any], expected: str
) -> None:
    assert _images(render(values=values, kube_version=kube_version))["kube-scheduler"] == expected


def test_image_digest_wins_over_tag() -> None:
    images = _images(render(*SCENARIO_FILES["platform-values"]))
    assert images["operator"] == (
        "registry.example.com/platform/suanli@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )


# --- catalog and latency map ---------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_catalog_configmap_parses_as_the_extender_reads_it(scenario: str) -> None:
    data = _scenario(scenario).get("ConfigMap", "suanli-catalog")["data"]
    assert parse_catalog(data["catalog.yaml"], "chart catalog").types
    parse_latency(data["latency.yaml"], "chart latency map")
    parse_data_policy(data["data-policy.yaml"], "chart data policy")


def test_default_catalog_and_latency_are_the_built_in_ones() -> None:
    manifest = render()
    builtin = resources.files("suanli.data")
    assert manifest.configmap_yaml("suanli-catalog", "catalog.yaml") == yaml.safe_load(
        builtin.joinpath("catalog.yaml").read_text()
    )
    assert manifest.configmap_yaml("suanli-catalog", "latency.yaml") == yaml.safe_load(
        builtin.joinpath("latency.yaml").read_text()
    )
    assert manifest.configmap_yaml("suanli-catalog", "data-policy.yaml") == yaml.safe_load(
        builtin.joinpath("data-policy.yaml").read_text()
    )


def _checksums(manifest: Manifest) -> dict[str, str | None]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]
        .get("annotations", {})
        .get("checksum/catalog")
        for d in manifest.kinds("Deployment")
    }


def test_a_catalog_change_rolls_the_pods_that_read_it() -> None:
    before = _checksums(render())
    cheaper = render(values={"latency.latencyMs": {"sh-edge-1": {"bj-edge-1": 30}}})
    after = _checksums(cheaper)
    assert set(before) == {"suanli-operator", "suanli-scheduler"}
    assert all(before[name] and after[name] != before[name] for name in before)
    assert set(_checksums(render(values={"catalog.rollout": False})).values()) == {None}


def test_a_scheduler_config_change_rolls_the_scheduler_only() -> None:
    def annotation(manifest: Manifest, name: str) -> str | None:
        template = manifest.get("Deployment", name)["spec"]["template"]
        return template["metadata"]["annotations"].get("checksum/scheduler-config")

    before, after = render(), render(values={"extender.weight": 7})
    assert annotation(before, "suanli-scheduler") != annotation(after, "suanli-scheduler")
    assert annotation(after, "suanli-operator") is None


# --- CRDs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "keep", "present", "kept"),
    [(True, True, True, True), (True, False, True, False), (False, True, False, False)],
)
def test_crd_is_gated_and_kept(enabled: bool, keep: bool, present: bool, kept: bool) -> None:
    manifest = render(values={"crds": {"enabled": enabled, "keep": keep}})
    for name in ("computejobs.suanli.dev", "computequeues.suanli.dev"):
        assert manifest.has("CustomResourceDefinition", name) is present
        if present:
            crd = manifest.get("CustomResourceDefinition", name)
            annotations = crd["metadata"].get("annotations") or {}
            assert (annotations.get("helm.sh/resource-policy") == "keep") is kept


# --- combinations that cannot work are refused with a sentence ------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"operator.replicas": 2, "operator.leaderElection.enabled": False},
            "operator.replicas > 1 needs operator.leaderElection.enabled=true",
        ),
        (
            {"scheduler.replicas": 3, "scheduler.leaderElection.enabled": False},
            "scheduler.replicas > 1 needs scheduler.leaderElection.enabled=true",
        ),
        (
            {"extender.mode": "service", "extender.tls.secretName": "x"},
            "extender.tls.secretName and extender.tls.clientSecretName go together",
        ),
        (
            {"extender.mode": "service", "extender.tls.clientSecretName": "x"},
            "extender.tls.secretName and extender.tls.clientSecretName go together",
        ),
        ({"serviceMonitor.enabled": True}, "cannot scrape an extender listening on 127.0.0.1"),
        (
            {"scheduler.serviceAccount.create": False},
            "scheduler.serviceAccount.create=false needs scheduler.serviceAccount.name",
        ),
    ],
    ids=[
        "operator-ha",
        "scheduler-ha",
        "tls-serving-secret-alone",
        "tls-client-secret-alone",
        "monitor-loopback",
        "sa-name",
    ],
)
def test_impossible_combinations_fail_with_their_reason(
    values: dict[str, Any], message: str
) -> None:
    assert message in render_error(values=values)


# --- monitoring -------------------------------------------------------------------------------------


def test_service_monitor_scrapes_operator_and_extender() -> None:
    manifest = render(*SCENARIO_FILES["monitoring-values"])
    (monitor,) = manifest.kinds("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    assert ports == {"metrics", "extender"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [
        s["metadata"]["name"]
        for s in manifest.kinds("Service")
        if all(s["metadata"]["labels"].get(k) == v for k, v in selector.items())
    ]
    assert sorted(scraped) == ["suanli-extender", "suanli-operator"]
    for service in manifest.kinds("Service"):
        assert {p["name"] for p in service["spec"]["ports"]} & ports


def test_dashboard_configmap_goes_to_grafana() -> None:
    manifest = render(*SCENARIO_FILES["monitoring-values"])
    dashboard = manifest.get("ConfigMap", "suanli-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["suanli.json"] == (
        CHART / "dashboards" / "suanli.json"
    ).read_text().rstrip("\n")


# --- the operator's webhook ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({"enabled": False}, None),
        ({"enabled": True}, ("9443", "suanli-operator.suanli-system.svc")),
        (
            {"enabled": True, "port": 8443, "host": "hooks.example.com"},
            ("8443", "hooks.example.com"),
        ),
    ],
    ids=["off", "defaults", "custom"],
)
def test_webhook_is_served_where_the_apiserver_is_told_to_call(
    webhook: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    manifest = render(values={"operator.webhook": webhook})
    (container,) = manifest.get("Deployment", "suanli-operator")["spec"]["template"]["spec"][
        "containers"
    ]
    flags = dict(a.split("=", 1) for a in container["args"] if a.startswith("--webhook"))
    ports = {
        p["name"]: p["port"] for p in manifest.get("Service", "suanli-operator")["spec"]["ports"]
    }
    if expected is None:
        assert flags == {}
        assert "webhook" not in ports
        return
    port, host = expected
    # The URL the operator registers carries the port: the Service must expose the same one.
    assert flags == {
        "--webhook-port": port,
        "--webhook-addr": "0.0.0.0",
        "--webhook-host": host,
        "--webhook-cert-dir": "/etc/suanli/webhook",
        "--webhook-failure-policy": "Ignore",
    }
    assert ports["webhook"] == int(port)
    # Every replica serves the one certificate of the chart's Secret, made for that host.
    secret = manifest.get("Secret", "suanli-operator-webhook")
    certificate = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [host]
    pod = manifest.get("Deployment", "suanli-operator")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "webhook-cert"]
    assert volume["secret"]["secretName"] == "suanli-operator-webhook"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["webhook-cert"] == "/etc/suanli/webhook"
    # Ready means serving the webhook, which a standby does too; alive is /healthz.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize(
    ("tolerations", "parsed"),
    [
        (None, ("node-role.kubernetes.io/edge:NoSchedule",)),  # the chart's default
        (
            ["node-role.kubernetes.io/edge:NoSchedule", "apps.openyurt.io/pool=sh:NoSchedule"],
            ("node-role.kubernetes.io/edge:NoSchedule", "apps.openyurt.io/pool=sh:NoSchedule"),
        ),
        ([], ()),
    ],
    ids=["default", "openyurt-pool-added", "none"],
)
def test_edge_tolerations_reach_the_operator(
    tolerations: list[str] | None, parsed: tuple[str, ...]
) -> None:
    values = {} if tolerations is None else {"operator.edgeTolerations": tolerations}
    manifest = render(values=values)
    (container,) = manifest.get("Deployment", "suanli-operator")["spec"]["template"]["spec"][
        "containers"
    ]
    assert _parse(container["args"]).edge_tolerations == parsed
