"""Prometheus and Alertmanager configs: promtool/amtool checks and rule unit tests.

promtool and amtool come with the Debian packages ``prometheus`` and
``prometheus-alertmanager``; without them these tests skip locally and fail in CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.binaries import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules" / "mlspan.rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
CONTRACT_METRICS = {
    "mlspan_feature_drift",
    "mlspan_feature_drifted",
    "mlspan_dataset_drift_share",
    "mlspan_dataset_drifted",
    "mlspan_validation_failures",
    "mlspan_alerts_firing",
    "mlspan_alert_notifications_failed_total",
    "mlspan_spans_received_total",
    "mlspan_spans_dropped_total",
    "mlspan_requests_rejected_total",
    "mlspan_metric_label_overflow_total",
}


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_promtool_checks_the_config_and_its_rule_files(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "apt-get install prometheus")
    # promtool opens the scrape job's token file, which the stack mounts from a secret:
    # check a copy of the folder with a stand-in token file beside it.
    folder = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, folder)
    token = folder / _token_file()
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text("stand-in-token\n")
    output = _run(promtool, "check", "config", str(folder / "prometheus.yml"))
    assert "SUCCESS: 1 rule files found" in output


def _token_file() -> str:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "mlspan")
    path: str = job["authorization"]["credentials_file"]
    return path


def test_prometheus_sends_the_api_read_token_mounted_from_a_secret() -> None:
    # The collector's /metrics needs the read token (deploy/mlspan/collector.yaml); the
    # compose stack mounts it where the relative credentials_file points.
    assert not _token_file().startswith("/")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    targets = {
        secret["target"]: secret["source"]
        for secret in compose["services"]["prometheus"]["secrets"]
    }
    assert targets[f"/etc/prometheus/{_token_file()}"] == "mlspan-api-read-token"
    collector = yaml.safe_load((DEPLOY / "mlspan" / "collector.yaml").read_text())
    read_file = collector["api"]["auth"]["bearer_tokens"]["token_file"]
    mounted = {
        secret["target"]: secret["source"]
        for secret in compose["services"]["mlspan-collector"]["secrets"]
    }
    assert mounted[read_file] == "mlspan-api-read-token"


def test_promtool_checks_the_rules() -> None:
    promtool = require_binary("promtool", "apt-get install prometheus")
    output = _run(promtool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(_rules())} rules found" in output


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = require_binary("promtool", "apt-get install prometheus")
    assert RULE_TESTS
    output = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert "FAILED" not in output
    assert output.count("SUCCESS") == len(RULE_TESTS)


def test_amtool_checks_the_alertmanager_config() -> None:
    amtool = require_binary("amtool", "apt-get install prometheus-alertmanager")
    output = _run(amtool, "check-config", str(ALERTMANAGER))
    assert "SUCCESS" in output


def test_every_rule_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _rules()}
    assert names - fired == set()
    assert names - quiet == set()


def test_rules_use_only_contract_metrics_and_carry_severity_and_summary() -> None:
    for rule in _rules():
        used = set(re.findall(r"\bmlspan_[a-z_]+\b", rule["expr"]))
        assert used <= CONTRACT_METRICS, rule["alert"]
        assert rule["alert"].startswith("Mlspan")
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]


def test_prometheus_scrapes_mlspan_and_sends_to_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "mlspan")
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"][0].endswith(":4319")
    assert config["rule_files"] == ["rules/*.yml"]
    alertmanager = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert alertmanager.endswith(":9093")


def test_alertmanager_sends_resolved_alerts_to_a_webhook() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receiver = next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"])
    webhook = receiver["webhook_configs"][0]
    assert webhook["send_resolved"] is True
    assert webhook["url"].startswith("http")


def test_a_missing_tool_fails_in_ci_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        require_binary("promtool-not-installed", "apt-get install prometheus")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_binary("promtool-not-installed", "apt-get install prometheus")
