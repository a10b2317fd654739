"""mlspan's /metrics, its Prometheus rules and its Alertmanager config, end to end.

A running collector (OTLP/HTTP receiver, alerts processor, drift connector) receives
feature summaries of a training set and of a window where ``age`` and ``income``
shifted; its query API serves the drift results at ``/metrics``; a real Prometheus
(1 s scrape and evaluation, the rules in deploy/prometheus/rules) scrapes it and sends
alerts to a real Alertmanager (deploy/alertmanager/alertmanager.yml with the webhook URL
pointed at a receiver in this test). mlspan's own webhook notifier runs beside it
against a receiver that fails once and one that always fails. Everything listens on
127.0.0.1 on free ports; every wait is bounded.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mlspan.collector.alerts import AlertingComponent
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.service import Service
from tests.collector.alerts.builders import post_otlp
from tests.collector.alerts.webhook_server import Received, webhook_receiver
from tests.collector.drift.batches import batch, numerical, summary_span
from tests.deploy.binaries import require_binary
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process, poll

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICE = "churn-service"
WAIT_S = 90.0


@dataclass
class Stack:
    api: str
    prometheus: str
    am_hook: Received
    flaky: Received
    dead: Received
    alerting: AlertingComponent


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _alertmanager_config(folder: Path, hook_url: str) -> Path:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = hook_url
    # Deliver at once instead of batching for 10 s.
    config["route"].update(group_wait="0s", group_interval="1s")
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _prometheus_config(folder: Path, api_port: int, am_port: int) -> Path:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "prometheus" / "rules" / "*.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{am_port}"
    ]
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "mlspan")
    job["scrape_interval"] = "1s"
    job.pop("authorization", None)  # the collector started here has no API token
    job["static_configs"][0]["targets"] = [f"127.0.0.1:{api_port}"]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _retry(initial: float, give_up_after: float) -> dict[str, float]:
    """Unjittered doubling backoff; ``dead`` gets 2 attempts (waits 0.1, then 0.2 > 0.15)."""
    return {
        "initial_interval": initial,
        "max_interval": 1.0,
        "max_elapsed_time": give_up_after,
        "multiplier": 2.0,
        "randomization_factor": 0.0,
    }


def _send_drifted_model(traces_url: str) -> None:
    """Training baseline, then a window where age and income shifted by ~0.6 sigma."""
    rng = np.random.default_rng(7)
    n = 5_000
    train = [
        numerical("age", rng.normal(40, 10, n)),
        numerical("income", rng.normal(50, 5, n)),
        numerical("tenure", rng.normal(3, 1, n)),
    ]
    current = [
        numerical("age", rng.normal(46, 10, n)),
        numerical("income", rng.normal(53, 5, n)),
        numerical("tenure", rng.normal(3, 1, n)),
    ]
    post_otlp(traces_url, batch([summary_span("fit", train, role="train")], service=SERVICE).raw)
    predict = summary_span("predict", current, role="inference")
    post_otlp(traces_url, batch([predict], service=SERVICE).raw)


def _collector_config(folder: Path, flaky_url: str, dead_url: str) -> dict[str, Any]:
    """OTLP/HTTP in, the alerts processor, the drift connector; API on a free port."""
    return {
        "data_dir": str(folder / "mlspan"),
        "api": {"endpoint": "127.0.0.1:0"},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "processors": {
            "alerts": {
                "webhooks": [
                    {"name": "flaky", "url": flaky_url, "retry_on_failure": _retry(0.3, 10.0)},
                    {"name": "dead", "url": dead_url, "retry_on_failure": _retry(0.1, 0.15)},
                ]
            }
        },
        "connectors": {"drift": {"window": {"mode": "rows", "rows": 1000}, "persist": False}},
        "service": {
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["alerts"], "exporters": ["drift"]}
            }
        },
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_bin = require_binary("prometheus", "apt-get install prometheus")
    alertmanager_bin = require_binary(
        "prometheus-alertmanager", "apt-get install prometheus-alertmanager"
    )
    folder = tmp_path_factory.mktemp("stack")
    with ExitStack() as stack:
        am_hook_url, am_hook = stack.enter_context(webhook_receiver())
        flaky_url, flaky = stack.enter_context(webhook_receiver(statuses=[503]))
        dead_url, dead = stack.enter_context(webhook_receiver(default_status=503))

        factories = default_factories()
        raw = _collector_config(folder, flaky_url, dead_url)
        service = Service(parse_config(raw, factories), factories)
        service.start()
        stack.callback(service.shutdown)
        assert service.api is not None and service.host is not None
        alerting = service.host.extras["alerts"]
        http = service.receivers()["otlp"].http
        assert http is not None

        am_port, prom_port = free_port(), free_port()
        stack.enter_context(
            background_process(
                "alertmanager",
                [
                    alertmanager_bin,
                    f"--config.file={_alertmanager_config(folder, am_hook_url)}",
                    f"--storage.path={folder / 'alertmanager-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                folder,
                f"http://127.0.0.1:{am_port}/-/ready",
            )
        )
        stack.enter_context(
            background_process(
                "prometheus",
                [
                    prometheus_bin,
                    f"--config.file={_prometheus_config(folder, service.api.port, am_port)}",
                    f"--storage.tsdb.path={folder / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                folder,
                f"http://127.0.0.1:{prom_port}/-/ready",
            )
        )
        _send_drifted_model(f"http://127.0.0.1:{http.port}/v1/traces")
        yield Stack(
            service.api.url, f"http://127.0.0.1:{prom_port}", am_hook, flaky, dead, alerting
        )


def _query(stack: Stack, promql: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": promql})
    body = _get_json(f"{stack.prometheus}/api/v1/query?{query}")
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_drift_gauges_in_prometheus_name_exactly_the_shifted_features(stack: Stack) -> None:
    def drifted() -> set[str] | None:
        result = _query(stack, f'mlspan_feature_drifted{{service="{SERVICE}"}} == 1')
        return {r["metric"]["feature"] for r in result} or None

    assert poll("drifted features in Prometheus", drifted) == {"age", "income"}
    above = _query(
        stack, f'mlspan_feature_drift{{service="{SERVICE}",metric="wasserstein_sigma"}} >= 0.1'
    )
    assert {r["metric"]["feature"] for r in above} == {"age", "income"}
    share = _query(stack, f'mlspan_dataset_drift_share{{service="{SERVICE}"}}')
    assert float(share[0]["value"][1]) == pytest.approx(2 / 3)


def test_the_dataset_drift_rule_fires_and_reaches_the_webhook_through_alertmanager(
    stack: Stack,
) -> None:
    def firing_in_prometheus() -> dict[str, Any] | None:
        alerts = _get_json(f"{stack.prometheus}/api/v1/alerts")["data"]["alerts"]
        return next(
            (
                a
                for a in alerts
                if a["labels"]["alertname"] == "MlspanDatasetDrift" and a["state"] == "firing"
            ),
            None,
        )

    alert = poll("MlspanDatasetDrift firing in Prometheus", firing_in_prometheus)
    assert alert["labels"]["model"] == "churn"
    assert alert["labels"]["service"] == SERVICE

    def delivered() -> dict[str, Any] | None:
        for body in stack.am_hook.successful_bodies():
            for item in body["alerts"]:
                if item["labels"]["alertname"] == "MlspanDatasetDrift":
                    return dict(item)
        return None

    item = poll("the Alertmanager webhook", delivered)
    assert item["status"] == "firing"
    assert item["labels"]["severity"] == "warning"
    assert item["labels"]["version"] == "v1"
    assert item["annotations"]["summary"] == f"Dataset drift: churn v1 ({SERVICE})"
    assert item["annotations"]["description"].startswith("66.67% of the features")


def test_mlspan_notifies_its_own_webhooks_with_retries_and_counts_failures(
    stack: Stack,
) -> None:
    requests = stack.flaky.wait_for(2, WAIT_S)
    assert [status for _, status, _ in requests[:2]] == [503, 200]
    assert requests[1][0] - requests[0][0] >= 0.3 * 0.9
    delivered = requests[1][2]
    assert {a["labels"]["alertname"] for a in delivered["alerts"]} == {
        "DatasetDrift",
        "FeatureDrift",
    }
    dataset = next(a for a in delivered["alerts"] if a["name"] == "DatasetDrift")
    assert "2 of 3 features drifted" in dataset["insight"]

    assert len(stack.dead.wait_for(2, WAIT_S)) == 2

    def counted() -> float | None:
        result = _query(stack, 'mlspan_alert_notifications_failed_total{receiver="dead"} == 1')
        return float(result[0]["value"][1]) if result else None

    assert poll("the failure count in Prometheus", counted) == 1
    assert stack.alerting.notification_failures() == {"flaky": 0, "dead": 1}
    firing = _query(stack, 'mlspan_alerts_firing{alert="FeatureDrift"}')
    assert float(firing[0]["value"][1]) == 2
