"""The generated configuration the daemons read."""

from pathlib import Path

import yaml

from suanli.devcluster import config
from suanli.devcluster.pki import CertificateAuthority


def test_suanli_scheduler_calls_the_extender_with_names_only(tmp_path: Path) -> None:
    document = config.suanli_scheduler_config(tmp_path / "kc", 12345)
    assert document["profiles"] == [{"schedulerName": "suanli-scheduler"}]
    (extender,) = document["extenders"]
    assert extender["urlPrefix"] == "http://127.0.0.1:12345"
    assert extender["nodeCacheCapable"] is True
    assert extender["ignorable"] is False
    assert {extender["filterVerb"], extender["prioritizeVerb"], extender["bindVerb"]} == {
        "filter",
        "prioritize",
        "bind",
    }
    assert document["clientConnection"]["qps"] > 50
    assert document["leaderElection"] == {"leaderElect": False}


def test_default_scheduler_has_no_extender(tmp_path: Path) -> None:
    document = config.default_scheduler_config(tmp_path / "kc")
    assert "extenders" not in document
    assert document["profiles"] == [{"schedulerName": "default-scheduler"}]


def test_kubeconfig_embeds_ca_and_client_identity(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    client = ca.issue("scheduler", "system:kube-scheduler")
    path = config.write_kubeconfig(
        tmp_path / "kc", "https://127.0.0.1:1", ca.pair.cert, client, "sched"
    )
    document = yaml.safe_load(path.read_text())
    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1"
    assert document["users"][0]["user"]["client-certificate-data"]
    assert path.stat().st_mode & 0o077 == 0


def test_kwok_stages_cover_the_lifecycle(tmp_path: Path) -> None:
    path = config.write_kwok_stages(tmp_path / "stages.yaml")
    documents = list(yaml.safe_load_all(path.read_text()))
    names = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "Stage"}
    assert [doc["kind"] for doc in documents].count("KwokConfiguration") == 1
    assert names == {"node-initialize", "node-heartbeat", "pod-ready", "pod-complete", "pod-delete"}
