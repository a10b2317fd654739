"""Results without waiting: the open window shown (and marked) while none has closed, and
windows closed by the job that filled them (a span attribute or the API)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.api.router import Router
from mlspan.collector.api.server import ApiServer
from mlspan.collector.cli.main import main
from mlspan.collector.drift.config import DriftConfig, WindowConfig
from mlspan.collector.drift.connector import ENGINE_KEY, drift_factory
from mlspan.collector.drift.engine import DriftEngine
from mlspan.collector.drift.results import DatasetDrift
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.semconv import attributes as attr
from mlspan.summaries import FeatureSummary
from tests.collector.drift.batches import batch, categorical, numerical, summary_span
from tests.support.spans import AttributeValue, key_values

ROWS = 4_000


def features(rng: np.random.Generator, shift: float = 0.0) -> list[FeatureSummary]:
    share = 0.4 - shift / 100.0
    return [
        numerical("age", rng.normal(40 + shift, 10, ROWS)),
        categorical("plan", rng.choice(["basic", "plus"], ROWS, p=[share, 1 - share])),
    ]


def job_end(model: str = "", service_span: int = 900) -> trace_pb2.Span:
    """The root span of a scoring job, asking the collector to close its windows."""
    span_attributes: dict[str, AttributeValue] = {attr.DRIFT_WINDOW_CLOSE: True}
    if model:
        span_attributes[attr.MODEL_NAME] = model
    return trace_pb2.Span(
        trace_id=service_span.to_bytes(16, "big"),
        span_id=service_span.to_bytes(8, "big"),
        name="score batch",
        attributes=key_values(span_attributes),
    )


def drifted(result: DatasetDrift) -> set[str]:
    return {f.feature for f in result.features if f.drifted}


def time_engine(clock: list[float]) -> DriftEngine:
    config = DriftConfig(window=WindowConfig(mode="time", seconds=300.0), persist=False)
    return DriftEngine(config, IngestStats(), clock=lambda: clock[0])


def test_a_job_that_closes_its_window_keeps_a_clean_and_a_drifted_batch_apart() -> None:
    rng = np.random.default_rng(7)
    clock = [1_000.0]
    engine = time_engine(clock)
    engine.process(batch([summary_span("fit", features(rng), role="train")]))
    # Two jobs within one 300 s window, each ending with its close request; the second
    # job's request comes in the same batch as its summaries, after them.
    engine.process(batch([summary_span("predict", features(rng)), job_end()]))
    clock[0] += 10.0
    engine.process(batch([summary_span("predict", features(rng, shift=15.0)), job_end()]))
    history = [drift for drift, _ in engine.history()]
    assert [drifted(d) for d in history] == [set(), {"age", "plan"}]
    assert all(f.current_count == ROWS for d in history for f in d.features)
    assert engine.evaluate() == [] and engine.open_windows() == []


def test_without_the_close_request_both_batches_share_one_window() -> None:
    rng = np.random.default_rng(7)
    clock = [1_000.0]
    engine = time_engine(clock)
    engine.process(batch([summary_span("fit", features(rng), role="train")]))
    engine.process(batch([summary_span("predict", features(rng))]))
    engine.process(batch([summary_span("predict", features(rng, shift=15.0))]))
    assert engine.history() == []
    [status] = engine.open_windows()
    assert status.closes_at == 1_300.0 and status.rows == 2 * ROWS
    [(current, _)] = engine.evaluate()
    assert {f.current_count for f in current.features} == {2 * ROWS}


def test_a_close_request_names_its_service_and_model() -> None:
    rng = np.random.default_rng(8)
    clock = [1_000.0]
    engine = time_engine(clock)
    for model in ("churn", "fraud"):
        engine.process(batch([summary_span("fit", features(rng), role="train", model=model)]))
        engine.process(batch([summary_span("predict", features(rng), model=model)]))
    engine.process(batch([job_end(model="fraud")], service="other"))
    assert engine.history() == []
    engine.process(batch([job_end(model="fraud")]))
    assert [d.key.model_name for d, _ in engine.history()] == ["fraud"]
    [(closed, _)] = engine.close("churn")
    assert closed.key.model_name == "churn"
    assert engine.close() == []


def test_summaries_merged_per_batch_count_every_row() -> None:
    rng = np.random.default_rng(9)
    clock = [1_000.0]
    engine = time_engine(clock)
    engine.process(batch([summary_span("fit", features(rng), role="train")]))
    spans = [summary_span("predict", features(rng), end_time=2_000.0 + i) for i in range(6)]
    engine.process(batch(spans))
    [(current, _)] = engine.close()
    assert {f.current_count for f in current.features} == {6 * ROWS}
    assert current.window_start == 2_000.0 and current.window_end == 2_005.0


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, DriftEngine]]:
    factory = drift_factory()
    config = factory.parse_config("drift", {"window": {"mode": "time", "seconds": 600}})
    router = Router()
    host = Host(data_dir=tmp_path, router=router)
    connector = factory.create(config, host, None)
    engine: DriftEngine = host.extras[ENGINE_KEY]
    rng = np.random.default_rng(3)
    engine.process(batch([summary_span("fit", features(rng), role="train")], service="shop"))
    engine.process(batch([summary_span("predict", features(rng, 15.0))], service="shop"))
    server = ApiServer("127.0.0.1", 0, router)
    server.start()
    try:
        yield server.url, engine
    finally:
        server.shutdown()
        connector.shutdown()


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: dict[str, object] = json.load(response)
        return body


@pytest.mark.slow
def test_api_shows_the_open_window_marked_until_one_closes(
    api: tuple[str, DriftEngine],
) -> None:
    url, engine = api
    [result] = get(f"{url}/api/v1/drift?service=shop")["results"]  # type: ignore[misc]
    assert result["window_state"] == "open" and result["drifted"] is True
    [status] = engine.open_windows()
    assert result["closes_at"] == pytest.approx(status.opened + 600)
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{url}/api/v1/drift?service=elsewhere")
    assert missing.value.code == 404
    missing.value.close()
    request = urllib.request.Request(
        f"{url}/api/v1/drift/windows/close?service=shop&model=churn",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        [closed] = json.load(response)["results"]
    assert closed["window_state"] == "closed" and closed["drifted"] is True
    [latest] = get(f"{url}/api/v1/drift")["results"]  # type: ignore[misc]
    assert latest["window_state"] == "closed"
    assert get(f"{url}/api/v1/drift?window=current")["results"] == []


@pytest.mark.slow
def test_cli_says_which_window_it_shows_and_closes_it(
    api: tuple[str, DriftEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = api
    assert main(["drift", "--api", url, "--service", "shop"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("shop / churn v1  open window (evaluated now; closes at ")
    assert "(in 9m" in head or "(in 10m" in head
    assert main(["drift", "--api", url, "--close", "--service", "shop"]) == 0
    assert capsys.readouterr().out.startswith("shop / churn v1  closed window ")
    assert main(["drift", "--api", url, "--close"]) == 0
    assert capsys.readouterr().out.strip() == "no open drift window to close"
    assert main(["validate", "--api", url, "--service", "nowhere"]) == 1
    assert "service 'nowhere'" in capsys.readouterr().err
