"""``mlspan alerts`` against a running query API."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlspan.collector.alerts import AlertingComponent, AlertsConfig
from mlspan.collector.api import ApiServer, Router
from mlspan.collector.cli.alert_commands import render_table
from mlspan.collector.cli.main import main
from mlspan.collector.pipeline.factory import Host
from tests.collector.alerts.builders import calm_window, check, dataset, drifted_window, feature


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, AlertingComponent]]:
    host = Host(data_dir=tmp_path, router=Router())
    component = AlertingComponent(AlertsConfig(), host)
    component.start()
    server = ApiServer("127.0.0.1", 0, host.router)
    server.start()
    try:
        yield server.url, component
    finally:
        server.shutdown()
        component.shutdown()


@pytest.mark.slow
def test_table_shows_firing_alerts_with_insight(
    api: tuple[str, AlertingComponent], capsys: pytest.CaptureFixture[str]
) -> None:
    url, component = api
    assert main(["alerts", "--api", url]) == 0
    assert capsys.readouterr().out == "no alerts firing\n"
    component.on_results(drifted_window(), [check("age", "range", False)])
    assert main(["alerts", "--api", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["STATUS", "ALERT", "SEVERITY", "SINCE", "ABOUT", "INSIGHT"]
    assert len(lines) == 5
    age = next(line for line in lines if "FeatureDrift" in line and "feature=age" in line)
    assert age.startswith("firing")
    assert " churn-service/churn@3 feature=age " in age
    assert age.endswith("age: W/sigma 0.41, PSI 0.35 -> drift")


@pytest.mark.slow
def test_all_adds_resolved_episodes_and_json_is_the_api_body(
    api: tuple[str, AlertingComponent],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, component = api
    component.on_results(drifted_window(), [])
    component.on_results(dataset(feature("age", 0.5, 0.5)), [])
    monkeypatch.setenv("MLSPAN_API", url)
    assert main(["alerts", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("resolved") == 1
    assert out.count("firing") == 2
    assert main(["alerts", "--all", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert len(body["firing"]) == 2
    assert len(body["history"]) == 3
    assert main(["alerts", "--model", "fraud"]) == 0
    assert capsys.readouterr().out == "no alerts firing\n"
    component.on_results(calm_window(), [])
    assert main(["alerts", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"firing": []}


def test_about_column_is_compact_and_shortens_digest_versions() -> None:
    labels = {
        "alertname": "FeatureDrift",
        "service": "shop",
        "model": "Pipeline",
        "version": "model:xxh3_128:871d2edc8a366b4a6ab4c9720aea9177",
        "feature": "age",
    }
    table = render_table([{"status": "firing", "name": "FeatureDrift", "labels": labels}])
    assert table.splitlines()[1].split()[2:] == ["shop/Pipeline@871d2edc8a36", "feature=age"]
    ingest = {"alertname": "SpansDropped", "reason": "queue_full"}
    assert "  reason=queue_full" in render_table([{"name": "SpansDropped", "labels": ingest}])


def test_unreachable_collector_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["alerts", "--api", f"http://127.0.0.1:{port}"]) == 1
    assert "cannot reach the collector" in capsys.readouterr().err


@pytest.mark.slow
def test_an_api_error_is_reported_with_its_message(
    api: tuple[str, AlertingComponent], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = api
    assert main(["alerts", "--all", "--limit", "0", "--api", url]) == 1
    assert "limit" in capsys.readouterr().err
