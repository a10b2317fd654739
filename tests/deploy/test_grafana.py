"""The Grafana dashboard: well formed, on the provisioned datasource, and every PromQL
expression parses in a real Prometheus (a parse error is HTTP 400 ``bad_data``)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspan.collector.metrics import collector as metrics
from tests.deploy.binaries import require_binary
from tests.support.otlp_sink import free_port
from tests.support.processes import background_process

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "mlspan.json"
GAUGES = (
    metrics.FEATURE_DRIFT,
    metrics.FEATURE_DRIFTED,
    metrics.DATASET_DRIFT_SHARE,
    metrics.DATASET_DRIFTED,
    metrics.VALIDATION_FAILURES,
    metrics.ALERTS_FIRING,
)
COUNTERS = (
    metrics.NOTIFICATIONS_FAILED,
    metrics.SPANS_RECEIVED,
    metrics.SPANS_DROPPED,
    metrics.REQUESTS_REJECTED,
    metrics.LABEL_OVERFLOW,
)
EXPOSED = {*GAUGES, *(f"{name}_total" for name in COUNTERS)}
"""Every series name the collector exposes (client_python adds ``_total`` to counters)."""
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*\w+\)$")


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _expressions() -> list[str]:
    """Every PromQL expression: panel targets, and the selectors of variable queries."""
    expressions = [target["expr"] for panel in _panels() for target in panel["targets"]]
    for variable in _dashboard()["templating"]["list"]:
        match = _LABEL_VALUES.match(variable["query"]["query"])
        assert match is not None, variable["query"]
        expressions.append(match.group("selector"))
    return expressions


def _substitute(expression: str) -> str:
    """Replace Grafana's variables by what Grafana would send."""
    builtins = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
    return _VARIABLE.sub(lambda match: builtins.get(match.group(1), ".*"), expression)


def test_dashboard_structure_and_datasource() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yml").read_text())
    prometheus_uid = next(
        source["uid"] for source in provisioned["datasources"] if source["type"] == "prometheus"
    )
    panels = _panels()
    assert len({panel["id"] for panel in _dashboard()["panels"]}) == len(_dashboard()["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == prometheus_uid, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == prometheus_uid
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_covers_the_metrics_contract() -> None:
    used = set(re.findall(r"\bmlspan_\w+", " ".join(_expressions())))
    assert used == EXPOSED


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 with a free port and temporary storage."""
    binary = require_binary("prometheus", "apt-get install prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    base = f"http://127.0.0.1:{free_port()}"
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address={base.removeprefix('http://')}",
    ]
    with background_process("prometheus", args, folder, f"{base}/-/ready"):
        yield base


@pytest.mark.slow
def test_prometheus_rejects_a_broken_expression(prometheus: str) -> None:
    # The check below is only meaningful if a parse error really is a 400 bad_data.
    query = urllib.parse.urlencode({"query": "sum by (feature (mlspan_feature_drift"})
    status, body = _get(f"{prometheus}/api/v1/query?{query}")
    assert status == 400
    assert body["errorType"] == "bad_data"


@pytest.mark.slow
@pytest.mark.parametrize("expression", _expressions())
def test_every_dashboard_expression_parses(prometheus: str, expression: str) -> None:
    query = urllib.parse.urlencode({"query": _substitute(expression)})
    status, body = _get(f"{prometheus}/api/v1/query?{query}")
    assert status == 200, body
    assert body["status"] == "success"
