"""The data policy: trust read from labels, the policy matrix, residency, and the file format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import pytest

from suanli.scoring import (
    BASELINE_POLICY,
    Classification,
    DataPolicy,
    DataPolicyError,
    DemandError,
    NodeFacts,
    Outcome,
    Tee,
    evaluate,
    node_facts,
    parse_data_policy,
    parse_demand_annotation,
)
from suanli.scoring.datapolicy import residency_refusal, rule_conflict
from suanli.scoring.facts import Tier
from tests.unit.scoring.helpers import default_catalog, default_latency, demand, node, snap

CATALOG = default_catalog()
POLICY = parse_data_policy(
    resources.files("suanli.data").joinpath("data-policy.yaml").read_text(encoding="utf-8")
)
TDX = "feature.node.kubernetes.io/cpu-security.tdx.enabled"
SNP = "feature.node.kubernetes.io/cpu-security.sev.snp.enabled"
SEV = "feature.node.kubernetes.io/cpu-security.sev.enabled"
TRUST = "suanli.dev/trust-level"
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"


def _facts(name: str = "n", labels: dict[str, str] | None = None) -> NodeFacts:
    return node_facts(node(name, labels), CATALOG)


@dataclass(frozen=True)
class TrustCase:
    name: str
    labels: dict[str, str]
    level: int
    tees: frozenset[Tee]


TRUST_CASES = [
    TrustCase("nothing", {}, 0, frozenset()),
    TrustCase("level", {TRUST: "4"}, 4, frozenset()),
    TrustCase("level with spaces", {TRUST: " 2 "}, 2, frozenset()),
    TrustCase("malformed level", {TRUST: "high"}, 0, frozenset()),
    TrustCase("negative level", {TRUST: "-1"}, 0, frozenset()),
    TrustCase("level out of range", {TRUST: "11"}, 0, frozenset()),
    TrustCase("tdx", {TDX: "true"}, 0, frozenset({Tee.TDX})),
    TrustCase("tdx not enabled", {TDX: "false"}, 0, frozenset()),
    TrustCase("snp and sev", {SNP: "true", SEV: "true"}, 0, frozenset({Tee.SEV_SNP, Tee.SEV})),
]


@pytest.mark.parametrize("case", TRUST_CASES, ids=[c.name for c in TRUST_CASES])
def test_trust_comes_from_labels(case: TrustCase) -> None:
    facts = node_facts(node("n", case.labels), CATALOG)
    assert facts.trust_level == case.level
    assert facts.tees == case.tees


def test_nodes_trusted_differently_are_different_classes() -> None:
    # The cluster state groups nodes by their facts without the name: trust must be among them.
    plain, trusted = _facts("a"), _facts("a", {TRUST: "3"})
    assert plain != trusted
    assert _facts("a", {TDX: "true"}) != plain


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: a class on a node of a tier, trust and TEE."""

    classification: Classification
    tier: str
    trust: str | None
    tee: str | None
    rule: str | None  # the rule that allows it, None: refused


_C, _R = Classification.CONFIDENTIAL, Classification.RESTRICTED
MATRIX = [
    Cell(Classification.PUBLIC, "edge", None, None, "anywhere"),
    Cell(Classification.PUBLIC, "device", None, None, "anywhere"),
    Cell(Classification.INTERNAL, "edge", None, None, "anywhere"),
    Cell(Classification.INTERNAL, "cloud", None, None, "anywhere"),
    Cell(_C, "cloud", None, None, None),
    Cell(_C, "cloud", "2", None, None),
    Cell(_C, "cloud", "3", None, "cloud-trusted"),
    Cell(_C, "cloud", None, TDX, "cloud-tee"),
    Cell(_C, "cloud", "4", SNP, "cloud-tee"),
    Cell(_C, "cloud", None, SEV, None),
    Cell(_C, "edge", "5", None, None),
    Cell(_C, "edge", None, TDX, None),
    Cell(_R, "cloud", "9", None, None),
    Cell(_R, "cloud", None, TDX, "cloud-tee"),
    Cell(_R, "cloud", None, SNP, "cloud-tee"),
    Cell(_R, "cloud", "9", SEV, None),
    Cell(_R, "edge", "9", TDX, None),
    Cell(_R, "device", None, SNP, None),
]


@pytest.mark.parametrize(
    "cell", MATRIX, ids=[f"{c.classification}-{c.tier}-{c.trust}-{c.tee}" for c in MATRIX]
)
def test_the_default_policy_matrix(cell: Cell) -> None:
    labels = {"suanli.dev/tier": cell.tier}
    if cell.trust is not None:
        labels[TRUST] = cell.trust
    if cell.tee is not None:
        labels[cell.tee] = "true"
    facts = node_facts(node("n", labels), CATALOG)
    rule = POLICY.allowing(cell.classification, facts)
    assert (rule.name if rule else None) == cell.rule
    refusal = POLICY.refusal(cell.classification, facts)
    assert (refusal is None) == (cell.rule is not None)
    if refusal is not None:
        reason, category = refusal
        assert category == f"{cell.classification} data not allowed by data policy default"
        assert reason.startswith(f"{cell.classification} data not allowed (rule ")


def test_refusal_says_what_each_rule_misses() -> None:
    facts = _facts(labels={"suanli.dev/tier": "edge"})
    reason, _ = POLICY.refusal(_C, facts) or ("", "")
    assert reason == (
        "confidential data not allowed (rule cloud-tee: tier edge not in [cloud]; "
        "rule cloud-trusted: tier edge not in [cloud])"
    )
    cloud = _facts(labels={TRUST: "1"})
    reason, _ = POLICY.refusal(_C, cloud) or ("", "")
    assert "rule cloud-tee: TEE none, want one of [sev-snp, tdx]" in reason
    assert "rule cloud-trusted: trust-level 1 < 3" in reason


def test_a_class_without_rules_runs_nowhere() -> None:
    assert BASELINE_POLICY.allowing(_R, _facts(labels={TDX: "true"})) is None
    assert BASELINE_POLICY.refusal(_R, _facts()) == (
        "data policy baseline allows restricted data on no node",
        "restricted data not allowed by data policy baseline",
    )
    assert BASELINE_POLICY.allowing(Classification.PUBLIC, _facts()) is not None


def test_rule_regions_match_region_or_zone() -> None:
    policy = parse_data_policy(
        {"classes": {"restricted": [{"name": "cn", "regions": ["cn-north-1", "cn-east-1-sh"]}]}}
    )
    assert policy.allowing(_R, _facts(labels={REGION: "cn-north-1"})) is not None
    assert (
        policy.allowing(_R, _facts(labels={REGION: "cn-east-1", ZONE: "cn-east-1-sh"})) is not None
    )
    refused = policy.refusal(_R, _facts(labels={REGION: "us-east-1", ZONE: "us-east-1a"}))
    assert refused is not None
    assert "region us-east-1, zone us-east-1a not in [cn-east-1-sh, cn-north-1]" in refused[0]


@dataclass(frozen=True)
class ResidencyCase:
    name: str
    residency: tuple[str, ...]
    labels: dict[str, str]
    refused: str | None


RESIDENCY = [
    ResidencyCase("no residency", (), {}, None),
    ResidencyCase("region inside", ("eu-west-1",), {REGION: "eu-west-1"}, None),
    ResidencyCase("zone inside", ("eu-west-1a",), {REGION: "eu-west-1", ZONE: "eu-west-1a"}, None),
    ResidencyCase(
        "outside",
        ("eu-west-1",),
        {REGION: "us-east-1", ZONE: "us-east-1a"},
        "region us-east-1, zone us-east-1a outside data residency [eu-west-1]",
    ),
    ResidencyCase(
        "unlabelled", ("eu-west-1",), {}, "no region label outside data residency [eu-west-1]"
    ),
]


@pytest.mark.parametrize("case", RESIDENCY, ids=[c.name for c in RESIDENCY])
def test_residency(case: ResidencyCase) -> None:
    refused = residency_refusal(case.residency, node_facts(node("n", case.labels), CATALOG))
    assert (refused[0] if refused else None) == case.refused


def test_rule_conflicts_with_the_job_s_own_bounds() -> None:
    cloud_tee = POLICY.rules(_R)[0]
    assert rule_conflict(cloud_tee, [Tier.EDGE], ()) == (
        "rule cloud-tee needs tier [cloud], the job allows [edge]"
    )
    assert rule_conflict(cloud_tee, [Tier.EDGE, Tier.CLOUD], ()) is None
    assert rule_conflict(cloud_tee, [], ("anywhere",)) is None
    cn = parse_data_policy({"classes": {"restricted": [{"name": "cn", "regions": ["cn-north-1"]}]}})
    assert rule_conflict(cn.rules(_R)[0], [], ("eu-west-1",)) == (
        "rule cn needs [cn-north-1], the data may not leave [eu-west-1]"
    )


@dataclass(frozen=True)
class BadPolicy:
    name: str
    data: dict[str, object]
    message: str


BAD = [
    BadPolicy("unknown class", {"classes": {"secret": []}}, "classes.secret"),
    BadPolicy(
        "rule named twice",
        {"classes": {"public": [{"name": "a"}, {"name": "a"}]}},
        "names rule a twice",
    ),
    BadPolicy(
        "unknown tee",
        {"classes": {"public": [{"name": "a", "tees": ["trustzone"]}]}},
        "classes.public[0](a).tees[0]: Input should be 'tdx'",
    ),
    BadPolicy(
        "trust level out of range",
        {"classes": {"public": [{"name": "a", "minTrustLevel": 11}]}},
        "minTrustLevel: Input should be less than or equal to 10",
    ),
    BadPolicy(
        "misspelt condition",
        {"classes": {"public": [{"name": "a", "tier": ["cloud"]}]}},
        "classes.public[0](a).tier: unknown field",
    ),
    BadPolicy("no classes", {"kind": "DataPolicy"}, "classes: Field required"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.name for c in BAD])
def test_bad_policies_name_the_field(case: BadPolicy) -> None:
    with pytest.raises(DataPolicyError) as raised:
        parse_data_policy(case.data, "policy.yaml")
    assert str(raised.value).startswith("invalid policy.yaml")
    assert case.message in str(raised.value)


def test_the_built_in_policy_reads() -> None:
    assert POLICY.name == "default"
    assert isinstance(POLICY, DataPolicy)
    assert [r.name for r in POLICY.rules(_C)] == ["cloud-tee", "cloud-trusted"]


def _demand(classification: str, residency: list[str] | None = None) -> dict[str, object]:
    data: dict[str, object] = {"classification": classification}
    if residency:
        data["residency"] = residency
    return {"data": data}


def test_evaluate_filters_by_class_and_residency_as_unresolvable() -> None:
    nodes = [
        node("plain", {REGION: "us-east-1"}),
        node("tdx-us", {REGION: "us-east-1", TDX: "true"}),
        node("snp-eu", {REGION: "eu-west-1", SNP: "true"}),
        node("edge-tdx", {REGION: "eu-west-1", TDX: "true", "suanli.dev/tier": "edge"}),
    ]
    asked = demand({"cpu": "1"}, **_demand("restricted", ["eu-west-1"]))
    snaps = [snap(n, CATALOG) for n in nodes]
    decision = evaluate(asked, snaps, CATALOG, default_latency(), data_policy=POLICY)
    assert decision.ranking == ("snp-eu",)
    verdicts = {v.node: v for v in decision.verdicts}
    assert verdicts["plain"].outcome is Outcome.UNRESOLVABLE
    assert verdicts["plain"].category == "restricted data not allowed by data policy default"
    assert verdicts["tdx-us"].category == "outside data residency [eu-west-1]"
    assert "tier edge not in [cloud]" in verdicts["edge-tdx"].reason


def test_pods_that_declare_no_data_are_not_bound_by_the_policy() -> None:
    decision = evaluate(
        demand({"cpu": "1"}), [snap(node("plain"), CATALOG)], CATALOG, default_latency()
    )
    assert decision.ranking == ("plain",)


def test_the_demand_annotation_validates_data_strictly() -> None:
    spec = parse_demand_annotation(json.dumps(_demand("confidential", ["eu-west-1"])))
    assert spec.data is not None
    assert spec.data.classification is _C
    assert spec.data.residency == ("eu-west-1",)
    with pytest.raises(DemandError, match=r"data\.classification"):
        parse_demand_annotation(json.dumps(_demand("secret")))
    with pytest.raises(DemandError, match=r"data\.residency"):
        parse_demand_annotation(json.dumps(_demand("public", ["a", "a"])))
