"""The drift engine on real OTLP batches whose summary events come from ``to_attributes``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.api.router import Router
from mlspan.collector.drift.config import BaselineConfig, DriftConfig, WindowConfig
from mlspan.collector.drift.connector import ENGINE_KEY, drift_factory
from mlspan.collector.drift.engine import DROP_REASON, DriftEngine
from mlspan.collector.drift.results import DatasetDrift, ValidationResult
from mlspan.collector.drift.store import ResultStore
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Host
from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import FeatureSummary
from tests.collector.drift.batches import batch, categorical, numerical, summary_span

N = 5_000


def training(rng: np.random.Generator) -> list[FeatureSummary]:
    return [
        numerical("age", rng.normal(40, 10, N)),
        numerical("income", rng.lognormal(10, 0.5, N)),
        numerical("tenure", rng.normal(5, 2, N)),
        categorical("plan", rng.choice(["basic", "plus", "pro"], N, p=[0.6, 0.3, 0.1])),
    ]


def inference(rng: np.random.Generator, n: int, age_shift: float = 0.0) -> list[FeatureSummary]:
    return [
        numerical("age", rng.normal(40 + age_shift, 10, n)),
        numerical("income", rng.lognormal(10, 0.5, n)),
        numerical("tenure", rng.normal(5, 2, n)),
        categorical("plan", rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1])),
    ]


class Recorder:
    """A results listener that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[DatasetDrift, Sequence[ValidationResult]]] = []

    def on_results(self, drift: DatasetDrift, validation: Sequence[ValidationResult]) -> None:
        self.calls.append((drift, validation))


def rows_engine(rows: int = N, **kwargs: object) -> DriftEngine:
    config = DriftConfig(window=WindowConfig(mode="rows", rows=rows), persist=False, **kwargs)  # type: ignore[arg-type]
    return DriftEngine(config, IngestStats())


def drifted(result: DatasetDrift) -> set[str]:
    return {f.feature for f in result.features if f.drifted}


def test_fit_baseline_and_predict_windows_give_drift_validation_and_listener_calls() -> None:
    rng = np.random.default_rng(1)
    engine = rows_engine()
    recorder = Recorder()
    engine.add_listener(recorder)
    engine.process(batch([summary_span("fit", training(rng), role="train")]))
    assert engine.latest_drift() == []
    # Two predict calls of half a window each: merged, then the window closes.
    for _ in range(2):
        engine.process(
            batch([summary_span("predict", inference(rng, N // 2, 8.0), role="inference")])
        )
    [result] = engine.latest_drift()
    assert result.key.model_name == "churn" and result.key.service == "svc"
    assert drifted(result) == {"age"}
    age = next(f for f in result.features if f.feature == "age")
    assert age.current_count == N and age.baseline_count == N
    assert age.insight.startswith("age: mean +20 % (+0.8")
    assert len(recorder.calls) == 1 and recorder.calls[0][0] is result
    checks = {(v.feature, v.check): v for v in engine.latest_validation()}
    assert checks[("age", "missing_column")].passed
    assert checks[("plan", "unseen_categories")].passed
    assert all(v.passed for v in engine.latest_validation() if v.check != "range")


def test_time_windows_close_on_the_clock_and_on_demand_evaluation_keeps_them_open() -> None:
    rng = np.random.default_rng(2)
    now = [1000.0]
    config = DriftConfig(window=WindowConfig(mode="time", seconds=60.0), persist=False)
    engine = DriftEngine(config, IngestStats(), clock=lambda: now[0])
    engine.process(batch([summary_span("fit", training(rng), role="train")]))
    engine.process(batch([summary_span("summary", inference(rng, 2_000, 15.0))]))
    [(current, _)] = engine.evaluate("churn")
    assert drifted(current) == {"age"}
    assert engine.latest_drift() == [] and engine.close_windows() == []
    now[0] += 59.0
    assert engine.close_windows() == []
    now[0] += 2.0
    [(closed, _)] = engine.close_windows()
    assert drifted(closed) == {"age"}
    assert engine.evaluate("churn") == []


def test_spans_without_summaries_other_roles_and_bad_summaries_are_skipped() -> None:
    rng = np.random.default_rng(3)
    engine = rows_engine(rows=1_000)
    bad = trace_pb2.Span.Event(
        name=FEATURE_SUMMARY,
        attributes=[
            common_pb2.KeyValue(
                key=attr.FEATURE_KIND, value=common_pb2.AnyValue(string_value="numerical")
            )
        ],
    )
    plain = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="plain")
    engine.process(
        batch(
            [
                plain,
                summary_span("fit", training(rng), role="train", extra_events=[bad]),
                summary_span("score", inference(rng, 1_000), role="eval"),
            ]
        )
    )
    assert engine.counts.bad == 1 and engine.counts.decoded == 4
    assert engine.latest_drift() == []
    engine.process(batch([summary_span("predict", inference(rng, 1_000))]))
    assert len(engine.latest_drift()) == 1


def test_a_full_queue_drops_batches_and_counts_the_spans() -> None:
    stats = IngestStats()
    engine = DriftEngine(DriftConfig(queue_size=1, persist=False), stats)
    rng = np.random.default_rng(4)
    one = batch([summary_span("fit", training(rng), role="train")])
    engine.consume(one)
    engine.consume(one)
    engine.consume(one)
    assert engine.batches_dropped == 2
    assert stats.snapshot().spans_dropped[DROP_REASON] == 2
    engine.shutdown()  # processes the queued one without a worker
    assert engine.counts.decoded == 4


def test_pinned_digest_baseline() -> None:
    rng = np.random.default_rng(5)
    config = BaselineConfig(mode="digest", digest="xxh3:golden")
    engine = rows_engine(rows=2_000, baseline=config)
    engine.process(batch([summary_span("fit", training(rng), role="train", digest="xxh3:other")]))
    engine.process(
        batch([summary_span("transform", inference(rng, 4_000, 5.0), digest="xxh3:golden")])
    )
    engine.process(batch([summary_span("predict", inference(rng, 2_000, 5.0))]))
    [result] = engine.latest_drift()
    assert drifted(result) == set()
    assert next(f for f in result.features if f.feature == "age").baseline_count == 4_000


def test_reference_window_baseline() -> None:
    rng = np.random.default_rng(6)
    engine = rows_engine(rows=2_000, baseline=BaselineConfig(mode="window", start=100, end=200))
    engine.process(batch([summary_span("predict", inference(rng, 3_000), end_time=150.0)]))
    engine.process(batch([summary_span("predict", inference(rng, 2_000, 10.0), end_time=300.0)]))
    [result] = engine.latest_drift()
    assert drifted(result) == {"age"}
    assert result.window_start == pytest.approx(300.0)


def test_prediction_drift_uses_the_first_window_as_its_baseline() -> None:
    rng = np.random.default_rng(7)
    engine = rows_engine(rows=2_000)
    engine.process(batch([summary_span("fit", training(rng), role="train")]))

    def window(score_mean: float) -> None:
        scores = numerical("score", rng.normal(score_mean, 0.1, 2_000), FeatureOrigin.PREDICTION)
        engine.process(batch([summary_span("predict", [*inference(rng, 2_000), scores])]))

    window(0.3)
    first = engine.latest_drift()[0]
    assert "score" not in {f.feature for f in first.features}
    window(0.5)
    second = engine.latest_drift()[0]
    score = next(f for f in second.features if f.feature == "score")
    assert score.origin == "prediction" and score.drifted


def test_results_and_baselines_survive_a_restart(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    config = DriftConfig(window=WindowConfig(mode="rows", rows=2_000))
    engine = DriftEngine(config, IngestStats(), ResultStore(tmp_path / "drift.sqlite", 10))
    engine.process(batch([summary_span("fit", training(rng), role="train", digest="d1")]))
    engine.process(batch([summary_span("predict", inference(rng, 2_000, 9.0))]))
    before = engine.latest_drift()
    engine.shutdown()
    again = DriftEngine(config, IngestStats(), ResultStore(tmp_path / "drift.sqlite", 10))
    assert again.latest_drift() == before
    assert len(again.latest_validation()) == len(engine.latest_validation())
    # The same training data again (a rerun after the restart) is not counted twice.
    again.process(batch([summary_span("fit", training(rng), role="train", digest="d1")]))
    again.process(batch([summary_span("predict", inference(rng, 2_000, 9.0))]))
    assert drifted(again.latest_drift()[0]) == {"age"}
    age = next(f for f in again.latest_drift()[0].features if f.feature == "age")
    assert age.baseline_count == N
    again.shutdown()


def test_validation_config_folder_sets_thresholds_and_accepted_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    (tmp_path / "churn.json").write_text(
        json.dumps(
            {
                "accepted_change": {"mean": 10},
                "features": {
                    "age": {"drift": {"wasserstein_sigma": 2.0, "psi": 5, "js": 1, "ks": 1}}
                },
            }
        )
    )
    engine = rows_engine(rows=2_000, validation_dir=str(tmp_path))
    engine.process(batch([summary_span("fit", training(rng), role="train")]))
    engine.process(batch([summary_span("predict", inference(rng, 2_000, 8.0))]))
    [result] = engine.latest_drift()
    assert drifted(result) == set()
    mean_check = next(
        v
        for v in engine.latest_validation()
        if v.feature == "age" and v.check == "metric_change:mean"
    )
    assert not mean_check.passed
    assert mean_check.insight.startswith("age: mean +2")
    (tmp_path / "churn.json").write_text(json.dumps({"drift": {"psi": -1}}))
    with pytest.raises(ConfigError, match=r"churn\.json\.drift\.psi"):
        rows_engine(validation_dir=str(tmp_path))


def test_connector_factory_worker_routes_and_host_extras(tmp_path: Path) -> None:
    factory = drift_factory()
    with pytest.raises(ConfigError, match="window_size"):
        factory.parse_config("drift", {"window_size": 3})
    with pytest.raises(ConfigError, match="mode"):
        factory.parse_config("drift", {"window": {"mode": "weekly"}})
    config = factory.parse_config(
        "drift", {"window": {"mode": "rows", "rows": 2000}, "thresholds": {"psi": 0.25}}
    )
    router = Router()
    host = Host(data_dir=tmp_path, router=router)
    connector = factory.create(config, host, None)
    engine = host.extras[ENGINE_KEY]
    assert connector.engine is engine
    connector.start()
    rng = np.random.default_rng(10)
    connector.consume(batch([summary_span("fit", training(rng), role="train")]))
    connector.consume(batch([summary_span("predict", inference(rng, 2_000, 9.0))]))
    assert engine.flush()
    response = router.dispatch("GET", "/api/v1/drift?model=churn")
    assert response.status == 200
    [body] = json.loads(response.body)["results"]
    assert body["model"] == "churn" and body["drifted_share"] == 0.25
    features = {f["feature"]: f for f in body["features"]}
    assert features["age"]["drifted"] and not features["plan"]["drifted"]
    psi = next(m for m in features["age"]["metrics"] if m["name"] == "psi")
    assert psi["threshold"] == 0.25
    missing = router.dispatch("GET", "/api/v1/drift?model=nope")
    assert missing.status == 404 and b"churn" in missing.body
    assert router.dispatch("GET", "/api/v1/drift?window=weekly").status == 400
    validation = router.dispatch("GET", "/api/v1/validation?failed_only=true")
    assert all(not r["passed"] for r in json.loads(validation.body)["results"])
    connector.shutdown()
    connector.shutdown()
    assert (tmp_path / "drift.sqlite").exists()


def test_windows_without_a_baseline_say_so_and_fail_no_schema_check() -> None:
    rng = np.random.default_rng(11)
    engine = rows_engine(rows=1_000)
    engine.process(batch([summary_span("predict", inference(rng, 1_000), version="v9")]))
    [result] = engine.latest_drift()
    assert result.features == () and not result.drifted
    assert result.insight == "churn v9: no baseline to compare with yet"
    assert all(v.passed for v in engine.latest_validation())


def test_summary_child_spans_of_a_wide_fit_join_the_baseline() -> None:
    rng = np.random.default_rng(12)
    engine = rows_engine(rows=2_000)
    first, rest = training(rng)[:2], training(rng)[2:]
    engine.process(
        batch(
            [
                summary_span("fit", first, role="train", digest="d"),
                summary_span("summary", rest, role="train", digest="d"),
            ]
        )
    )
    engine.process(batch([summary_span("predict", inference(rng, 2_000))]))
    [result] = engine.latest_drift()
    assert {f.feature for f in result.features} == {"age", "income", "tenure", "plan"}
    assert drifted(result) == set()


def test_candidate_spans_feed_no_baseline_and_no_window() -> None:
    """A search's candidate fits and scores see folds of the search's data: even with
    summaries they make no drift series. The user's own calls, with the role or without
    it (older instrumentation), do."""
    rng = np.random.default_rng(13)
    engine = rows_engine(rows=2_000)
    shifted = inference(rng, 2_000, 30.0)
    engine.process(
        batch(
            [
                summary_span("fit", shifted, role="train", call_role="candidate"),
                summary_span("fit", training(rng), role="train", call_role="user"),
            ]
        )
    )
    engine.process(batch([summary_span("predict", shifted, version="v2", call_role="candidate")]))
    assert engine.latest_drift() == []
    assert engine.counts.decoded == 4
    engine.process(batch([summary_span("predict", inference(rng, 2_000))]))
    [result] = engine.latest_drift()
    assert result.key.model_version == "v1"
    assert result.features[0].baseline_count == N
    assert drifted(result) == set()
