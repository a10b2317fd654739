"""Webhook delivery: Alertmanager-shaped bodies, retries with backoff, counted failures."""

from __future__ import annotations

import socket
import time

import pytest

from mlspan.collector.alerts import (
    Alert,
    AlertStatus,
    WebhookConfig,
    WebhookNotifier,
    webhook_payload,
)
from mlspan.collector.exporters.retry import RetryConfig
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass
from tests.collector.alerts.webhook_server import webhook_receiver

WAIT_S = 20.0


def _alert(status: AlertStatus = AlertStatus.FIRING, feature: str = "age") -> Alert:
    return Alert(
        name="FeatureDrift",
        severity="info",
        status=status,
        labels={"alertname": "FeatureDrift", "severity": "info", "feature": feature},
        annotations={"summary": f"{feature} drifted", "insight": f"{feature}: W/sigma 0.41"},
        insight=f"{feature}: W/sigma 0.41",
        starts_at=1_700_000_000.5,
        ends_at=1_700_000_060.0 if status is AlertStatus.RESOLVED else None,
    )


def _config(
    url: str,
    name: str = "oncall",
    initial: float = 0.2,
    max_interval: float = 0.5,
    give_up_after: float = 5.0,
    queue_size: int = 1000,
) -> WebhookConfig:
    """A webhook with a deterministic (unjittered) doubling backoff."""
    retry = RetryConfig(
        initial_interval=initial,
        max_interval=max_interval,
        max_elapsed_time=give_up_after,
        multiplier=2.0,
        randomization_factor=0.0,
    )
    config = WebhookConfig(
        name, url, timeout_seconds=2.0, retry_on_failure=retry, queue_size=queue_size
    )
    config.validate()
    return config


def test_payload_has_alertmanager_shape() -> None:
    body = webhook_payload("oncall", [_alert(), _alert(AlertStatus.RESOLVED, "income")])
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "oncall"
    assert body["commonLabels"] == {"alertname": "FeatureDrift", "severity": "info"}
    assert body["groupLabels"] == {"alertname": "FeatureDrift"}
    first, second = body["alerts"]
    assert first["status"] == "firing"
    assert first["labels"]["feature"] == "age"
    assert first["annotations"]["insight"] == "age: W/sigma 0.41"
    assert first["insight"] == "age: W/sigma 0.41"
    assert first["startsAt"] == "2023-11-14T22:13:20.500Z"
    assert first["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["endsAt"] == "2023-11-14T22:14:20.000Z"
    assert first["fingerprint"] != second["fingerprint"]
    assert webhook_payload("oncall", [_alert(AlertStatus.RESOLVED)])["status"] == "resolved"


def test_payload_can_be_truncated() -> None:
    alerts = [_alert(feature=f"f{n}") for n in range(5)]
    body = webhook_payload("oncall", alerts, max_alerts=2)
    assert [a["labels"]["feature"] for a in body["alerts"]] == ["f0", "f1"]
    assert body["truncatedAlerts"] == 3
    assert body["commonLabels"] == {"alertname": "FeatureDrift", "severity": "info"}
    assert webhook_payload("oncall", alerts)["truncatedAlerts"] == 0


@pytest.mark.slow
def test_retries_with_exponential_backoff_until_delivered() -> None:
    with webhook_receiver(statuses=[503, 500, 200]) as (url, received):
        notifier = WebhookNotifier([_config(url)])
        notifier.start()
        try:
            notifier.notify([_alert()])
            requests = received.wait_for(3, WAIT_S)
        finally:
            notifier.shutdown()
    assert [status for _, status, _ in requests] == [503, 500, 200]
    first_gap = requests[1][0] - requests[0][0]
    second_gap = requests[2][0] - requests[1][0]
    assert first_gap >= 0.2 * 0.9
    assert second_gap >= 0.4 * 0.9
    assert requests[2][2]["alerts"][0]["labels"]["alertname"] == "FeatureDrift"
    assert notifier.failures() == {"oncall": 0}


@pytest.mark.slow
def test_a_permanently_failing_receiver_is_counted_after_all_attempts() -> None:
    with webhook_receiver(default_status=503) as (url, received):
        # Waits 0.2 + 0.4 s; a third wait (0.5 s) would pass the 1 s limit: 3 attempts.
        notifier = WebhookNotifier([_config(url, give_up_after=1.0)])
        notifier.start()
        try:
            notifier.notify([_alert()])
            notifier.notify([_alert(AlertStatus.RESOLVED)])
            received.wait_for(6, WAIT_S)
        finally:
            notifier.shutdown()
    assert len(received.requests) == 6
    assert notifier.failures() == {"oncall": 2}


@pytest.mark.slow
def test_a_client_error_is_not_retried() -> None:
    with webhook_receiver(default_status=400) as (url, received):
        notifier = WebhookNotifier([_config(url)])
        notifier.start()
        notifier.notify([_alert()])
        received.wait_for(1, WAIT_S)
        notifier.shutdown()
    assert len(received.requests) == 1
    assert notifier.failures() == {"oncall": 1}


@pytest.mark.slow
def test_an_unreachable_receiver_is_counted_and_notify_never_blocks() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: every attempt is refused.
    config = _config(f"http://127.0.0.1:{port}/hook", give_up_after=0.3, queue_size=2)
    notifier = WebhookNotifier([config])
    notifier.start()
    started = time.monotonic()
    for _ in range(50):
        notifier.notify([_alert()])
    assert time.monotonic() - started < 1.0
    notifier.shutdown(timeout=10)
    # At most 1 in flight + 2 queued could be attempted; the rest were refused by the
    # full queue. Every one of the 50 is counted as failed either way.
    assert notifier.failures() == {"oncall": 50}


@pytest.mark.slow
def test_slow_receiver_does_not_delay_another() -> None:
    with (
        webhook_receiver(default_status=503) as (bad_url, _),
        webhook_receiver() as (
            good_url,
            good,
        ),
    ):
        notifier = WebhookNotifier(
            [
                _config(bad_url, name="flaky", initial=1.0, max_interval=1.0, give_up_after=2.5),
                _config(good_url, name="good"),
            ]
        )
        notifier.start()
        started = time.monotonic()
        notifier.notify([_alert()])
        assert len(good.wait_for(1, WAIT_S)) == 1
        assert time.monotonic() - started < 1.0
        notifier.shutdown(timeout=10)
    assert notifier.failures() == {"flaky": 1, "good": 0}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"url": "ftp://host/x"}, "url"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"queue_size": 0}, "queue_size"),
        ({"max_alerts": -1}, "max_alerts"),
        ({"name": "on call"}, "name"),
        ({"retry_on_failure": {"initial_interval": 0}}, "initial_interval"),
        ({"retry_on_failure": {"max_attempts": 3}}, "unknown key 'max_attempts'"),
    ],
)
def test_bad_webhook_config_names_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_dataclass(WebhookConfig, {"name": "a", "url": "http://127.0.0.1:9/", **raw}, "w")


@pytest.mark.slow
def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    with webhook_receiver(statuses=[429], retry_after="1") as (url, received):
        notifier = WebhookNotifier([_config(url, initial=0.05, max_interval=2.0)])
        notifier.start()
        notifier.notify([_alert()])
        requests = received.wait_for(2, WAIT_S)
        notifier.shutdown()
    assert [status for _, status, _ in requests] == [429, 200]
    assert requests[1][0] - requests[0][0] >= 0.9
    assert notifier.failures() == {"oncall": 0}
