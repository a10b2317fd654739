"""The ``alerts`` processor in a running collector: OTLP in, alerts and metrics out."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlspan.collector.alerts import AlertsConfig, alerts_factory
from mlspan.collector.drift.connector import drift_factory
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.service import Service
from tests.collector.alerts.builders import post_otlp
from tests.collector.drift.batches import batch, numerical, summary_span

WAIT_S = 30.0


def _factories() -> list[Factory[Any]]:
    factories = default_factories()
    if not any(f.type_name == "drift" for f in factories):
        factories.append(drift_factory())
    return factories


def test_alerts_is_a_default_processor() -> None:
    factory = next(f for f in default_factories() if f.type_name == "alerts")
    assert factory.kind is Kind.PROCESSOR
    assert factory.config_class is AlertsConfig


def test_only_one_alerting_component_per_collector(tmp_path: Path) -> None:
    factory = alerts_factory()
    host = Host(data_dir=tmp_path)
    factory.create(AlertsConfig(), host, None)
    with pytest.raises(ConfigError, match="one pipeline only"):
        factory.create(AlertsConfig(), host, None)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read() if url.endswith("/metrics") else json.load(response)


@pytest.mark.slow
def test_drifted_spans_raise_alerts_visible_in_the_api_and_capped_metrics(tmp_path: Path) -> None:
    raw_config = {
        "data_dir": str(tmp_path),
        "api": {"endpoint": "127.0.0.1:0"},
        "metrics": {"max_series_per_metric": 4},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "processors": {"alerts": {"evaluation_interval_seconds": 0.5}},
        "connectors": {"drift": {"window": {"mode": "rows", "rows": 1000}, "persist": False}},
        "service": {
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["alerts"], "exporters": ["drift"]}
            }
        },
    }
    service = Service(parse_config(raw_config, _factories()), _factories())
    service.start()
    try:
        assert service.api is not None
        api = service.api.url
        http = service.receivers()["otlp"].http
        assert http is not None
        traces = f"http://127.0.0.1:{http.port}/v1/traces"
        rng = np.random.default_rng(3)
        train = [
            numerical("age", rng.normal(40, 10, 5000)),
            numerical("tenure", rng.normal(3, 1, 5000)),
        ]
        current = [
            numerical("age", rng.normal(47, 10, 2000)),
            numerical("tenure", rng.normal(3, 1, 2000)),
        ]
        post_otlp(traces, batch([summary_span("fit", train, role="train")], service="shop").raw)
        post_otlp(
            traces, batch([summary_span("predict", current, role="inference")], service="shop").raw
        )

        deadline = time.monotonic() + WAIT_S
        firing: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(firing) < 2:
            firing = _get(f"{api}/api/v1/alerts")["firing"]
            time.sleep(0.1)
        assert sorted((a["name"], a["labels"].get("feature", "")) for a in firing) == [
            ("DatasetDrift", ""),
            ("FeatureDrift", "age"),
        ]
        assert all(a["labels"]["service"] == "shop" for a in firing)
        metrics = _get(f"{api}/metrics").decode()
        assert 'mlspan_alerts_firing{alert="DatasetDrift",severity="warning"} 1.0' in metrics
        assert 'mlspan_dataset_drifted{model="churn",service="shop",version="v1"} 1.0' in metrics
        # Two features x a dozen drift metrics, capped at 4 series: the rest is counted.
        exported = [
            line for line in metrics.splitlines() if line.startswith("mlspan_feature_drift{")
        ]
        assert len(exported) == 4
        overflow = next(
            line
            for line in metrics.splitlines()
            if line.startswith(
                'mlspan_metric_label_overflow_total{metric="mlspan_feature_drift",service="shop"}'
            )
        )
        assert float(overflow.split()[-1]) > 0
    finally:
        service.shutdown()
    assert (tmp_path / "alerts.sqlite").exists()
