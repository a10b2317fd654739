"""The drift connector in a running collector: OTLP/HTTP in, drift through the API and CLI."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mlspan.collector.cli.main import main
from mlspan.collector.service.config import parse_config
from mlspan.collector.service.factories import default_factories
from mlspan.collector.service.service import Service
from tests.collector.drift.batches import batch, categorical, numerical, summary_span

WAIT_S = 30.0


def post_otlp(url: str, raw: bytes) -> None:
    request = urllib.request.Request(
        url, data=raw, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.slow
def test_collector_computes_drift_from_otlp_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "churn.json").write_text(json.dumps({"accepted_change": {"mean": 10}}))
    raw_config = {
        "data_dir": str(tmp_path / "data"),
        "api": {"endpoint": "127.0.0.1:0"},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "connectors": {
            "drift": {
                "window": {"mode": "rows", "rows": 3000},
                "validation_dir": str(tmp_path / "rules"),
            }
        },
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["drift"]}}},
    }
    service = Service(parse_config(raw_config, default_factories()), default_factories())
    service.start()
    try:
        assert service.api is not None
        http = service.receivers()["otlp"].http
        assert http is not None
        traces = f"http://127.0.0.1:{http.port}/v1/traces"
        rng = np.random.default_rng(5)
        train = [
            numerical("age", rng.normal(40, 10, 10_000)),
            numerical("tenure", rng.normal(3, 1, 10_000)),
            categorical("plan", rng.choice(["basic", "pro"], 10_000)),
        ]
        post_otlp(traces, batch([summary_span("fit", train, role="train")]).raw)
        for _ in range(3):  # three predict calls make one window
            current = [
                numerical("age", rng.normal(48, 10, 1_000)),
                numerical("tenure", rng.normal(3, 1, 1_000)),
                categorical("plan", rng.choice(["basic", "pro"], 1_000)),
            ]
            post_otlp(traces, batch([summary_span("predict", current, role="inference")]).raw)
        api = service.api.url
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{api}/api/v1/drift", timeout=10) as response:
                results = json.load(response)["results"]
            if results:
                break
            time.sleep(0.05)
        [result] = results
        assert {f["feature"] for f in result["features"] if f["drifted"]} == {"age"}
        assert main(["drift", "--api", api, "--model", "churn"]) == 0
        out = capsys.readouterr().out
        assert "1 of 3 features drifted" in out
        assert re.search(r"age: mean \+(19|20|21) % \(accepted 10 %, \+0\.[78]\d sigma\)", out)
        assert main(["validate", "--api", api, "--failed"]) == 2
        assert re.search(r"age: mean \+(19|20|21) % \(accepted 10 %\)", capsys.readouterr().out)
    finally:
        service.shutdown()
    assert (tmp_path / "data" / "drift.sqlite").exists()
