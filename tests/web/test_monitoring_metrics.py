"""Every metric the chart's alerts and dashboard use is one a real `pullpass serve` exports.

The rules come from the rendered chart (the pinned helm), the panels from the dashboard file, and
the names from `/metrics` of the serve fixture (families appear there even before a first sample).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography import x509

from tests.kit.chart import CHART, one, render

if TYPE_CHECKING:  # the fixture's type only: `conftest` names another module in a mixed run
    from tests.kit.serving import Server

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression (or a Grafana `label_values` query) selects."""
    text = re.sub(r"label_values\(([^,)]*)(,[^)]*)?\)", r"\1", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        if match.group(1).lower() not in KEYWORDS:
            names.add(match.group(1))
    return names


def test_the_extractor() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y{z}"}[5m]))) / on (pod) b'
    ) == {"a_bucket", "b"}
    assert metric_names('(sum(c{j="k"}) or vector(0)) < 1 and d offset 5m') == {"c", "d"}
    assert metric_names('label_values(e{namespace="$namespace"}, job)') == {"e"}


def used() -> dict[str, set[str]]:
    """Metric name -> where it is used."""
    places: dict[str, set[str]] = {}
    rule = one(render({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            for name in metric_names(r["expr"]):
                places.setdefault(name, set()).add(f"alert {r['alert']}")
    dashboard = json.loads((CHART / "dashboards" / "pullpass.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in metric_names(target["expr"]):
                places.setdefault(name, set()).add(f"panel {panel['title']!r}")
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            for name in metric_names(variable["query"]["query"]):
                places.setdefault(name, set()).add(f"variable {variable['name']}")
    return places


def exported(server: Server) -> set[str]:
    text = httpx.get(f"{server.metrics}/metrics").text
    names = set()
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        base = family.removesuffix("_total") if kind == "counter" else family
        names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


@pytest.fixture(scope="module")
def places(server: Server) -> dict[str, set[str]]:
    return used()


def test_every_metric_used_is_exported(server: Server, places: dict[str, set[str]]) -> None:
    # The API server's own series (its webhook fail-open counter) come from its /metrics.
    missing = {
        name: sorted(where)
        for name, where in places.items()
        if name not in exported(server) and not name.startswith("apiserver_")
    }
    assert not missing, f"used but not in /metrics: {missing}"


def test_the_alerts_and_panels_cover_the_metrics(places: dict[str, set[str]]) -> None:
    for name in (
        "pullpass_ready",
        "pullpass_certificate_expiry_timestamp_seconds",
        "pullpass_admissions_total",
        "pullpass_copy_conflicts_total",
        "pullpass_replication_errors_total",
    ):
        assert any(p.startswith("alert") for p in places[name]), name
        assert any(p.startswith("panel") for p in places[name]), name


def test_ready_and_certificate_expiry_values(server: Server, certs: Path) -> None:
    text = httpx.get(f"{server.metrics}/metrics").text
    assert re.search(r"^pullpass_ready 1\.0$", text, re.MULTILINE), text
    leaf = x509.load_pem_x509_certificate((certs / "tls.crt").read_bytes())
    found = re.search(r"^pullpass_certificate_expiry_timestamp_seconds (\S+)$", text, re.MULTILINE)
    assert found, text
    assert float(found.group(1)) == leaf.not_valid_after_utc.timestamp()
