"""The chart's alerts and dashboard: rendered, checked and unit-tested by the pinned promtool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kit.chart import CHART, Manifest, one, render

HERE = Path(__file__).parent
CASES = HERE / "alerts.promtool.yaml"
ON = {"prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}}


@pytest.fixture(scope="module")
def monitoring(helm_path: str) -> list[Manifest]:
    return render(ON)


def write_rules(rule: Manifest, directory: Path) -> Path:
    """The PrometheusRule's spec is a Prometheus rule file."""
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    return path


def promtool(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False)


def test_off_by_default(helm_path: str) -> None:
    kinds = {o["kind"] for o in render()}
    assert "PrometheusRule" not in kinds
    assert "ConfigMap" not in kinds


def test_rules_are_valid(monitoring: list[Manifest], promtool_path: str, tmp_path: Path) -> None:
    rules = write_rules(one(monitoring, "PrometheusRule"), tmp_path)
    done = promtool(promtool_path, "check", "rules", str(rules))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 9 rules found" in done.stdout


def test_promtool_rule_tests(
    monitoring: list[Manifest], promtool_path: str, tmp_path: Path
) -> None:
    rules = write_rules(one(monitoring, "PrometheusRule"), tmp_path)
    cases = yaml.safe_load(CASES.read_text())
    cases["rule_files"] = [str(rules)]
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(cases, sort_keys=False))
    done = promtool(promtool_path, "test", "rules", str(tmp_path / "cases.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_test_case(monitoring: list[Manifest]) -> None:
    alerts = {
        r["alert"] for g in one(monitoring, "PrometheusRule")["spec"]["groups"] for r in g["rules"]
    }
    cases = yaml.safe_load(CASES.read_text())["tests"]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert alerts == tested


def test_policy_mode_has_no_webhook_to_fail_open(helm_path: str) -> None:
    rule = one(render({**ON, "admission": {"mode": "policy"}}), "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "PullpassWebhookFailedOpen" not in alerts
    assert "PullpassPodsMissingCredentials" in alerts


def test_values_reach_the_rules(helm_path: str) -> None:
    rule = one(
        render(
            {
                "prometheusRule": {
                    "enabled": True,
                    "selector": 'service="mine"',
                    "for": "2m",
                    "watchOutOfSyncMinutes": 3,
                    "certificateExpiryDays": 30,
                    "labels": {"release": "kps"},
                }
            }
        ),
        "PrometheusRule",
    )
    assert rule["metadata"]["labels"]["release"] == "kps"
    by_name = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    # The API server's fail-open counter is not pullpass's series: it is selected by the
    # webhook's name alone.
    fail_open = by_name.pop("PullpassWebhookFailedOpen")["expr"]
    assert 'apiserver_admission_webhook_fail_open_count{name="inject.pullpass.io"}' in fail_open
    assert all('service="mine"' in r["expr"] and "job=" not in r["expr"] for r in by_name.values())
    assert by_name["PullpassWatchOutOfSync"]["for"] == "3m"
    assert by_name["PullpassNoReadyReplica"]["for"] == "2m"
    assert "< 30 * 86400" in by_name["PullpassCertificateExpiresSoon"]["expr"]


def test_dashboard_config_map(monitoring: list[Manifest]) -> None:
    config_map = one(monitoring, "ConfigMap", "pullpass-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard: dict[str, Any] = json.loads(config_map["data"]["pullpass.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "pullpass.json").read_text())
    assert dashboard["uid"] == "pullpass"
    assert all(t["expr"] for p in dashboard["panels"] for t in p["targets"])


def test_dashboard_labels_are_configurable(helm_path: str) -> None:
    """Helm merges maps: a sidecar with another label drops the default by setting it null."""
    config_map = one(
        render(
            {
                "dashboard": {
                    "enabled": True,
                    "labels": {"my_label": "x", "grafana_dashboard": None},
                    "annotations": {"grafana_folder": "Platform"},
                }
            }
        ),
        "ConfigMap",
    )
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]
    assert config_map["metadata"]["labels"]["my_label"] == "x"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Platform"}
