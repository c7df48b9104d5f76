"""Edge jobs tolerate the taints edge nodes carry; other jobs do not, and planning agrees."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.configfiles import ScoringConfigFiles
from suanli.controller.admission import plan_gang
from suanli.controller.edge import DEFAULTS, parse_toleration
from suanli.controller.podspec import pod_manifest
from suanli.controller.slots import slots
from suanli.fleet import default_fleet, node_manifests
from suanli.scoring import parse_pod
from suanli.state import ClusterFeed
from tests.unit.controller.conftest import example

FILES = ScoringConfigFiles(None, None)
KUBEEDGE = {"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("text", "toleration"),
    [
        ("node-role.kubernetes.io/edge:NoSchedule", KUBEEDGE),
        (
            "node-role.kubernetes.io/edge",
            {"key": "node-role.kubernetes.io/edge", "operator": "Exists"},
        ),
        (
            "apps.openyurt.io/pool=beijing:NoExecute",
            {
                "key": "apps.openyurt.io/pool",
                "operator": "Equal",
                "value": "beijing",
                "effect": "NoExecute",
            },
        ),
    ],
)
def test_parse_toleration(text: str, toleration: dict[str, str]) -> None:
    assert parse_toleration(text) == toleration


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("bad key!", "is not key[=value][:effect]"),
        ("edge:Sometimes", "effect 'Sometimes' is not one of NoSchedule"),
    ],
)
def test_bad_toleration_names_the_syntax(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("[", r"\[")):
        parse_toleration(text)


def _pod(name: str, **options: Any) -> dict[str, Any]:
    job, meta = example(name)
    return pod_manifest(job, dict(meta), slots(job, meta["name"])[0], FILES.catalog, **options)


@pytest.mark.parametrize(
    ("example_file", "tolerations"),
    [
        ("edge-inference.yaml", [KUBEEDGE]),  # locality.tiers: [edge]
        ("training-gang.yaml", None),  # no tiers: may use untainted edge nodes, not tainted ones
        ("batch-cpu.yaml", None),
    ],
)
def test_only_jobs_asking_for_the_edge_tolerate_it(
    example_file: str, tolerations: list[dict[str, str]] | None
) -> None:
    assert _pod(example_file)["spec"].get("tolerations") == tolerations


def test_configured_tolerations_replace_the_defaults_and_keep_the_templates() -> None:
    job, meta = example("edge-inference.yaml")
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    own = {"key": "site", "operator": "Equal", "value": "sh", "effect": "NoSchedule"}
    body["spec"]["tasks"][0]["template"]["spec"]["tolerations"] = [own, KUBEEDGE]
    job = type(job).model_validate(body)
    slot = slots(job, meta["name"])[0]
    pool = parse_toleration("apps.openyurt.io/pool=shanghai:NoSchedule")
    manifest = pod_manifest(job, dict(meta), slot, FILES.catalog, edge_tolerations=(pool,))
    assert manifest["spec"]["tolerations"] == [own, KUBEEDGE, pool]
    again = pod_manifest(job, dict(meta), slot, FILES.catalog, edge_tolerations=DEFAULTS)
    assert again["spec"]["tolerations"] == [own, KUBEEDGE]  # never twice


def test_gang_planning_sees_the_taints_kube_scheduler_filters_by() -> None:
    feed = ClusterFeed(lambda: FILES.catalog)
    feed.replace_nodes(node_manifests(default_fleet()))
    job, meta = example("edge-inference.yaml")

    def plan(**options: Any) -> Any:
        demands = [
            parse_pod(pod_manifest(job, dict(meta), s, FILES.catalog, **options))
            for s in slots(job, meta["name"])
        ]
        return plan_gang(feed, demands, 2, catalog=FILES.catalog, latency=FILES.latency)

    # One feed for all three: a memo of the tolerating pods must not answer for the others.
    tolerated = plan()
    assert tolerated.admitted
    assert {node.rsplit("-", 1)[0] for node in tolerated.plan.values()} == {"edge-sh"}
    refused = plan(edge_tolerations=())
    assert not refused.admitted
    assert "untolerated taint node-role.kubernetes.io/edge:NoSchedule" in refused.reason
    assert plan().admitted


def test_taints_survive_a_catalog_reload() -> None:
    catalogs = [FILES.catalog]
    feed = ClusterFeed(lambda: catalogs[-1])
    feed.replace_nodes(node_manifests(default_fleet()))
    catalogs.append(ScoringConfigFiles(None, None).catalog)  # a new catalog object: re-read
    feed.refresh_catalog()
    node = feed.node("edge-sh-0")
    assert node is not None
    assert [str(t) for t in node.facts.taints] == ["node-role.kubernetes.io/edge:NoSchedule"]
