"""Alert configuration from the collector YAML: nested rules and webhooks, errors name keys."""

from __future__ import annotations

import pytest
import yaml

from mlspan.collector.alerts import AlertsConfig, RuleKind
from mlspan.collector.alerts.config import DEFAULT_RULES
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass

YAML = """
evaluation_interval_seconds: 5
history_limit: 500
rules:
  - {name: DatasetDrift, kind: dataset_drift, severity: critical, threshold: 0.3}
  - {name: HighPsi, kind: feature_drift, metric: psi, threshold: 1, features: [age]}
  - {name: RangeBroken, kind: validation_failure, checks: [range, metric_change]}
  - {name: SpansDropped, kind: ingest_drops, threshold: 2.5}
webhooks:
  - {name: oncall, url: "http://127.0.0.1:5001/hook", retry_on_failure: {max_elapsed_time: 60}}
"""


def _parse(text: str) -> AlertsConfig:
    return parse_dataclass(AlertsConfig, yaml.safe_load(text), "processors.alerts")


def test_yaml_builds_nested_frozen_configs() -> None:
    config = _parse(YAML)
    assert [r.name for r in config.rules] == [
        "DatasetDrift",
        "HighPsi",
        "RangeBroken",
        "SpansDropped",
    ]
    psi = config.rules[1]
    assert psi.kind is RuleKind.FEATURE_DRIFT
    assert psi.features == ("age",)
    assert psi.threshold == 1
    assert config.rules[2].checks == ("range", "metric_change")
    assert config.webhooks[0].retry_on_failure.max_elapsed_time == 60.0
    assert config.webhooks[0].retry_on_failure.initial_interval == 5.0
    assert config.evaluation_interval_seconds == 5.0
    with pytest.raises(AttributeError):
        config.history_limit = 1  # type: ignore[misc]


def test_defaults_cover_every_rule_kind() -> None:
    config = _parse("{}")
    assert config.rules == DEFAULT_RULES
    assert {r.kind for r in config.rules} == set(RuleKind)
    assert config.webhooks == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules: [{name: X, kind: dataset_drift, treshold: 0.3}]",
            "rules\\[0\\]: unknown key 'treshold'",
        ),
        ("rules: [{name: X, kind: drift}]", "rules\\[0\\].kind: 'drift' is not one of"),
        ("rules: [{name: X, kind: dataset_drift, metric: psi}]", "metric: only a feature_drift"),
        ("rules: [{name: X, kind: feature_drift, checks: [range]}]", "checks: only a validation"),
        ("rules: [{name: X, kind: dataset_drift, threshold: 1.5}]", "threshold: a drifted share"),
        ("rules: [{name: X, kind: dataset_drift, for_seconds: -1}]", "for_seconds: must be"),
        (
            "rules: [{name: X, kind: feature_drift, threshold: high}]",
            "rules\\[0\\].threshold: expected",
        ),
        ("rules: [{name: X, kind: feature_drift, features: age}]", "features: expected a list"),
        ("rules: [{name: bad-name, kind: feature_drift}]", "name: 'bad-name'"),
        (
            "rules: [{name: X, kind: feature_drift}, {name: X, kind: dataset_drift}]",
            "rules: name 'X' is used twice",
        ),
        ("rules: {name: X}", "rules: expected a list"),
        ("webhooks: [{name: a}]", "webhooks\\[0\\]"),
        ("webhooks: [{name: a, url: 'not a url'}]", "url: 'not a url'"),
        ("evaluation_interval_seconds: 0", "evaluation_interval_seconds"),
        ("history_limit: 0", "history_limit"),
        ("colour: red", "unknown key 'colour'"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(text)
