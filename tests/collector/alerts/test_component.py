"""The alerting component: listener, ingest evaluation, API route, metrics, webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from mlspan.collector.alerts import (
    AlertingComponent,
    AlertRuleConfig,
    AlertsConfig,
    RuleKind,
    WebhookConfig,
)
from mlspan.collector.api import Router
from mlspan.collector.metrics import MlspanCollector
from mlspan.collector.pipeline.factory import Host
from tests.collector.alerts.builders import KEY, Clock, calm_window, check, drifted_window
from tests.collector.alerts.webhook_server import webhook_receiver

WAIT_S = 20.0


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(data_dir=tmp_path, router=Router())


@pytest.fixture
def component(host: Host) -> Iterator[AlertingComponent]:
    alerts = AlertingComponent(AlertsConfig(evaluation_interval_seconds=3600), host)
    alerts.start()
    try:
        yield alerts
    finally:
        alerts.shutdown()


def _get(router: Router, target: str) -> dict[str, object]:
    response = router.dispatch("GET", target)
    assert response.status == 200, response.body
    body: dict[str, object] = json.loads(response.body)
    return body


def test_results_fire_and_resolve_visible_in_the_api(
    host: Host, component: AlertingComponent
) -> None:
    component.on_results(drifted_window(), [check("age", "range", False)])
    body = _get(host.router, "/api/v1/alerts")
    firing = body["firing"]
    assert isinstance(firing, list)
    assert sorted(a["name"] for a in firing) == [
        "DatasetDrift",
        "FeatureDrift",
        "FeatureDrift",
        "ValidationFailed",
    ]
    validation = next(a for a in firing if a["name"] == "ValidationFailed")
    assert validation["labels"]["check"] == "range"
    assert validation["insight"] == "age: range 20% (limit 5 %)"
    assert validation["annotations"]["insight"] == validation["insight"]

    component.on_results(calm_window(), [check("age", "range", True)])
    body = _get(host.router, "/api/v1/alerts?limit=3")
    assert body["firing"] == []
    history = body["history"]
    assert isinstance(history, list)
    assert len(history) == 3
    assert {a["status"] for a in history} == {"resolved"}
    assert "history" not in _get(host.router, "/api/v1/alerts?history=false")
    assert _get(host.router, "/api/v1/alerts?model=fraud") == {"firing": [], "history": []}
    assert len(_get(host.router, f"/api/v1/alerts?model={KEY.model_name}")["history"]) == 4
    assert host.router.dispatch("GET", "/api/v1/alerts?limit=0").status == 400


def test_ingest_rule_uses_the_drop_rate_between_evaluations(tmp_path: Path) -> None:
    clock = Clock()
    host = Host(data_dir=tmp_path)
    rules = (AlertRuleConfig("SpansDropped", RuleKind.INGEST_DROPS, threshold=1.0),)
    component = AlertingComponent(AlertsConfig(rules=rules), host, clock=clock)
    component.start()
    try:
        clock.now += 10
        host.stats.spans_dropped("queue_full", 5)  # 0.5/s: under the limit
        assert component.evaluate_ingest() == []
        clock.now += 10
        host.stats.spans_dropped("queue_full", 50)  # 5/s
        fired = component.evaluate_ingest()
        assert [(a.name, a.labels["reason"]) for a in fired] == [("SpansDropped", "queue_full")]
        clock.now += 10
        resolved = component.evaluate_ingest()  # nothing new dropped
        assert [a.status.value for a in resolved] == ["resolved"]
    finally:
        component.shutdown()


def test_alert_state_reaches_the_prometheus_collector(
    host: Host, component: AlertingComponent
) -> None:
    registry = CollectorRegistry()
    registry.register(MlspanCollector(host.stats, alerts=lambda: host.extras.get("alerts")))
    firing = {"alert": "FeatureDrift", "severity": "info"}
    assert registry.get_sample_value("mlspan_alerts_firing", firing) == 0
    component.on_results(drifted_window(), [])
    assert registry.get_sample_value("mlspan_alerts_firing", firing) == 2
    dataset = {"alert": "DatasetDrift", "severity": "warning"}
    assert registry.get_sample_value("mlspan_alerts_firing", dataset) == 1


def test_firing_alerts_survive_a_restart(tmp_path: Path) -> None:
    first = AlertingComponent(AlertsConfig(), Host(data_dir=tmp_path))
    first.start()
    first.on_results(drifted_window(), [])
    first.shutdown()
    first.shutdown()
    second = AlertingComponent(AlertsConfig(), Host(data_dir=tmp_path))
    second.start()
    try:
        assert len(second.firing()) == 3
        assert second.firing_counts()[("DatasetDrift", "warning")] == 1
    finally:
        second.shutdown()


def test_results_before_start_are_ignored(tmp_path: Path) -> None:
    component = AlertingComponent(AlertsConfig(), Host(data_dir=tmp_path))
    component.on_results(drifted_window(), [])
    assert component.firing() == []
    assert component.history(10) == []
    assert component.firing_counts()[("DatasetDrift", "warning")] == 0
    component.shutdown()


@pytest.mark.slow
def test_transitions_are_posted_to_the_webhook(tmp_path: Path) -> None:
    with webhook_receiver() as (url, received):
        config = AlertsConfig(webhooks=(WebhookConfig("oncall", url),))
        component = AlertingComponent(config, Host(data_dir=tmp_path))
        component.start()
        try:
            component.on_results(drifted_window(), [])
            component.on_results(calm_window(), [])
            received.wait_for(2, WAIT_S)
        finally:
            component.shutdown()
    firing, resolved = received.successful_bodies()
    assert firing["status"] == "firing"
    assert firing["receiver"] == "oncall"
    assert {a["labels"]["alertname"] for a in firing["alerts"]} == {"DatasetDrift", "FeatureDrift"}
    dataset = next(a for a in firing["alerts"] if a["labels"]["alertname"] == "DatasetDrift")
    assert dataset["labels"]["model"] == KEY.model_name
    assert dataset["annotations"]["insight"] == "churn 3: 67% of features drifted"
    assert resolved["status"] == "resolved"
    assert all(a["endsAt"] != "0001-01-01T00:00:00Z" for a in resolved["alerts"])
    assert component.notification_failures() == {"oncall": 0}
