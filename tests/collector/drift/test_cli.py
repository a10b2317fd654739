"""``mlspan drift`` and ``mlspan validate`` against a real query API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlspan.collector.api.router import Router
from mlspan.collector.api.server import ApiServer
from mlspan.collector.cli.main import main
from mlspan.collector.drift.connector import ENGINE_KEY, drift_factory
from mlspan.collector.pipeline.factory import Host
from tests.collector.drift.batches import batch, categorical, numerical, summary_span
from tests.support.otlp_sink import free_port


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    factory = drift_factory()
    config = factory.parse_config("drift", {"window": {"mode": "rows", "rows": 3000}})
    router = Router()
    host = Host(data_dir=tmp_path, router=router)
    connector = factory.create(config, host, None)
    rng = np.random.default_rng(1)
    fit = [
        numerical("age", rng.normal(40, 10, 5_000)),
        categorical("plan", rng.choice(["basic", "plus"], 5_000)),
    ]
    now = [
        numerical("age", rng.normal(50, 10, 3_000)),
        categorical("plan", rng.choice(["basic", "plus", "gold"], 3_000)),
    ]
    engine = host.extras[ENGINE_KEY]
    engine.process(batch([summary_span("fit", fit, role="train")]))
    engine.process(batch([summary_span("predict", now)]))
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        connector.shutdown()


def test_drift_table_shows_metrics_decision_and_insight(
    api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "--api", api, "--model", "churn"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("svc / churn v1  closed window ")
    assert lines[1].startswith("churn v1: 2 of 2 features drifted (100%")
    header = lines[2].split()
    assert header[:3] == ["FEATURE", "ORIGIN", "ROWS"] and "DECISION" in header
    age = next(line for line in lines if line.startswith("age "))
    assert "DRIFT" in age and "3000/5000" in age and "age: mean +25 %" in age


def test_drift_json_and_validate(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--api", api, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["results"][0]["drifted"] is True
    assert main(["validate", "--api", api, "--failed"]) == 2
    out = capsys.readouterr().out
    assert "unseen_categories" in out and "FAIL" in out and "e.g. gold" in out


def test_unknown_model_and_unreachable_api(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--api", api, "--model", "nope"]) == 1
    assert "no latest drift results for model 'nope'" in capsys.readouterr().err
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["validate", "--api", dead]) == 1
    assert "cannot reach the collector" in capsys.readouterr().err
