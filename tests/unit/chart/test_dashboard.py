"""The Grafana dashboard: it queries metrics Suanli exports, with labels they carry."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from suanli.metrics import ExtenderMetrics, OperatorMetrics
from tests.unit.chart.helm import CHART

DASHBOARD = json.loads((CHART / "dashboards" / "suanli.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
EXPRESSIONS = [(p["title"], t["expr"]) for p in PANELS for t in p["targets"]]
_SUFFIXES = ("_bucket", "_sum", "_count", "_total")
# Labels Prometheus adds to every series, and histogram buckets.
_TARGET_LABELS = {"le", "instance", "pod", "container", "endpoint", "job", "namespace_"}


@functools.cache
def _label_names() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for metrics in (ExtenderMetrics(), OperatorMetrics()):
        for value in vars(metrics).values():
            if hasattr(value, "_labelnames"):
                names[value._name] = set(value._labelnames)
    return names


def _metric(name: str) -> str:
    """The family a series name belongs to: a histogram's _bucket, a counter's _total."""
    known = _label_names()
    for suffix in ("", *_SUFFIXES):
        if name.endswith(suffix) and name.removesuffix(suffix) in known:
            return name.removesuffix(suffix)
    return name


def _metrics_in(expr: str) -> set[str]:
    return {_metric(m) for m in re.findall(r"\bsuanli_[a-z_]+", expr)}


def test_every_queried_metric_is_exported() -> None:
    exported = set(_label_names())
    for title, expr in EXPRESSIONS:
        missing = _metrics_in(expr) - exported
        assert not missing, f"{title}: {missing} not in suanli.metrics"


def test_grouping_and_filter_labels_exist_on_the_metrics() -> None:
    names = _label_names()
    for title, expr in EXPRESSIONS:
        available = set().union(*(names[m] for m in _metrics_in(expr))) | _TARGET_LABELS
        grouped = {
            label.strip()
            for clause in re.findall(r"\b(?:by|without) \(([^)]*)\)", expr)
            for label in clause.split(",")
        }
        filtered = set(re.findall(r"[{,]\s*([a-z_]+)\s*=~?", expr))
        assert grouped | filtered <= available, f"{title}: {(grouped | filtered) - available}"


@pytest.mark.parametrize(
    ("topic", "metric", "grouping"),
    [
        ("jobs by phase", "suanli_computejobs", "phase"),
        ("queue wait", "suanli_computejob_time_to_running_seconds", "le"),
        ("placement by accelerator type", "suanli_extender_placements", "accelerator_type"),
        ("placement by tier", "suanli_extender_placements", "tier"),
        ("extender latency", "suanli_extender_request_duration_seconds", "verb"),
        ("cost per namespace", "suanli_computejob_cost_per_hour", "namespace"),
    ],
)
def test_the_asked_for_views_are_there(topic: str, metric: str, grouping: str) -> None:
    assert any(
        metric in _metrics_in(expr) and re.search(rf"by \([^)]*\b{grouping}\b", expr)
        for _, expr in EXPRESSIONS
    ), topic


def test_panels_use_the_datasource_variable_and_do_not_overlap() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    taken: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
            assert panel.get("description"), panel["title"]
        grid: dict[str, Any] = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_identity_is_stable() -> None:
    # Grafana's sidecar and users' links find the dashboard by uid across upgrades.
    assert DASHBOARD["uid"] == "suanli-overview"
    assert len({p["id"] for p in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])
