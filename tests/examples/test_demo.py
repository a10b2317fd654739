"""``make demo`` end to end: collector, instrumented pipeline, lineage, drift and alerts.

Runs ``examples/demo.py`` in a temporary data folder on free ports, checks what it
prints, checks the collector it leaves running answers, then stops it with ``--stop``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.examples.example_modules import EXAMPLES, load_example
from tests.support.otlp_sink import free_port

demo_collector = load_example("demo_collector")

DEMO_TIMEOUT_S = 240


@pytest.mark.slow
def test_demo_shows_lineage_drift_and_alerts_and_leaves_the_collector_running(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    options = [
        "--data-dir",
        str(data),
        "--grpc-port",
        str(free_port()),
        "--http-port",
        str(free_port()),
        "--api-port",
        str(api_port := free_port()),
    ]
    demo = [sys.executable, str(EXAMPLES / "demo.py"), *options]
    try:
        result = subprocess.run(
            demo, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        pid = int((data / "collector.pid").read_text())
        assert demo_collector.alive(pid)

        lineage = out[out.index("Lineage of") : out.index("Drift over the scoring jobs")]
        assert "batch_4.csv" in lineage
        for upstream in ("batch_4_customers.csv", "batch_4_accounts.csv", "clean-customers"):
            assert upstream in lineage, upstream
        assert "fit" in lineage
        assert "model:" in lineage

        drift = out[out.index("Drift per feature in the latest window") : out.index("\nAlerts")]
        for feature in ("monthly_charges", "contract", "support_calls"):
            assert feature in drift, feature
        assert "DRIFT" in drift
        history = out[out.index("Drift over the scoring jobs") : out.index("Drift per feature")]
        assert "-> dataset drift" in history.strip().splitlines()[-1]
        assert "-> no dataset drift" in history

        alerts = out[out.index("\nAlerts") : out.index("The collector keeps running")]
        for alert in ("DatasetDrift", "FeatureDrift", "ValidationFailed"):
            assert f"firing  {alert}" in alerts, alert
        assert "null_rate" in alerts

        assert f"http://127.0.0.1:{api_port}/metrics" in out
        assert f"kill {pid}" in out
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert "mlspan_dataset_drift_share{" in metrics
        assert "mlspan_spans_received_total{" in metrics
        with urllib.request.urlopen(
            f"http://127.0.0.1:{api_port}/api/v1/alerts", timeout=10
        ) as response:
            assert json.load(response)
    finally:
        stopped = subprocess.run(
            [*demo, "--stop"], capture_output=True, text=True, timeout=60, check=False
        )
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped the demo collector" in stopped.stdout
    assert not demo_collector.alive(pid)
    assert not (data / "collector.pid").exists()
