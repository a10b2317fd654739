"""The processor on parsed batches: merging, caps and refusals, the store across a
restart, validation scores, regression metrics, drop rules and the Prometheus caps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from mlspan import semconv
from mlspan.collector.alerts.config import AlertRuleConfig, RuleKind
from mlspan.collector.alerts.performance_rules import performance_candidates
from mlspan.collector.metrics.config import MetricsConfig
from mlspan.collector.performance.config import PerformanceConfig
from mlspan.collector.performance.extract import ModelKey
from mlspan.collector.performance.processor import STORE_FILE, PerformanceProcessor
from mlspan.collector.performance.prometheus import PerformanceMetrics
from mlspan.collector.performance.state import Window
from mlspan.collector.performance.store import PerformanceStore
from mlspan.collector.pipeline.factory import ConfigError, Host
from mlspan.summaries.performance_build import classification_summary, regression_summary
from tests.collector.performance.spans import batch_of, performance_span, span_with

HOUR = 3600.0


def _processor(tmp_path: Path, **options: int) -> PerformanceProcessor:
    config = PerformanceConfig(**options)  # type: ignore[arg-type]
    store = PerformanceStore(tmp_path / STORE_FILE)
    processor = PerformanceProcessor(config, Host(data_dir=tmp_path), None, store)
    processor.start()
    return processor


def _classifier(seed: int, rows: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    pred = np.where(rng.random(rows) < 0.8, truth, 1 - truth)
    return truth, pred


def test_regression_windows_merge_to_scikit_learn_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(10, 3, 3000)
    pred = truth + rng.normal(0.5, 1.0, 3000)
    parts = np.array_split(np.arange(3000), 10)
    processor = _processor(tmp_path)
    spans = [
        performance_span(regression_summary(truth[p], pred[p]), "price", "v1", i * HOUR)
        for i, p in enumerate(parts)
    ]
    processor.consume(batch_of(spans))
    (result,) = processor.results(model="price")
    assert result.count == 3000
    assert result.metrics["mae"] == pytest.approx(mean_absolute_error(truth, pred), rel=1e-9)
    rmse = math.sqrt(mean_squared_error(truth, pred))
    assert result.metrics["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert result.metrics["r2"] == pytest.approx(r2_score(truth, pred), rel=1e-9)
    assert len(result.windows) == 10
    processor.shutdown()


def test_late_span_merges_into_its_window_and_survives_a_restart(tmp_path: Path) -> None:
    truth, pred = _classifier(1)
    processor = _processor(tmp_path)
    first = classification_summary(truth[:120], pred[:120])
    late = classification_summary(truth[120:], pred[120:])
    processor.consume(batch_of([performance_span(first, "churn", "v1", 0.0, predictions=400)]))
    processor.consume(batch_of([performance_span(late, "churn", "v1", 0.0, predictions=400)]))
    (result,) = processor.results()
    assert result.count == 200
    assert [w.start for w in result.windows] == [0.0]
    assert result.coverage == 0.5
    assert result.metrics["accuracy"] == float(np.mean(truth == pred))
    processor.shutdown()

    restarted = _processor(tmp_path)
    (again,) = restarted.results()
    assert again.count == 200
    assert again.metrics == result.metrics
    assert again.coverage == 0.5
    restarted.shutdown()


def test_caps_and_malformed_spans_are_refused_and_counted(tmp_path: Path) -> None:
    truth, pred = _classifier(2)
    summary = classification_summary(truth, pred)
    processor = _processor(tmp_path, max_models=2, max_windows_per_model=3)
    spans = [performance_span(summary, f"m{i}", "v1", 0.0) for i in range(3)]
    spans += [performance_span(summary, "m0", "v1", i * HOUR) for i in range(1, 5)]
    regression = regression_summary(truth.astype(float), pred.astype(float))
    spans.append(performance_span(regression, "m0", "v1", 4 * HOUR))  # another task
    broken = performance_span(summary, "m1", "v1", 0.0)
    broken.attributes[-1].value.int_value = 7  # a count that does not add up
    spans.append(broken)
    spans.append(performance_span(summary, "m1", "v1", 0.0, length=400 * 86400.0))
    spans.append(span_with({semconv.PERFORMANCE_TASK: "classifier"}))
    processor.consume(batch_of(spans))
    assert [k.model for k in processor.state.model_keys()] == ["m0", "m1"]
    assert [w.start for w in processor.state.windows(ModelKey("svc", "m0", "v1"))] == [
        2 * HOUR,
        3 * HOUR,
        4 * HOUR,
    ]
    refused = processor.state.refusals()
    assert refused == {"models": 1, "evicted": 2, "task": 1, "decode": 3}
    assert len(processor.state.windows(ModelKey("svc", "m1", "v1"))) == 1
    processor.shutdown()
    stored = PerformanceStore(tmp_path / STORE_FILE)
    assert sorted(w.start for k, w in stored.load_windows() if k.model == "m0") == [
        2 * HOUR,
        3 * HOUR,
        4 * HOUR,
    ]
    stored.close()


def test_validation_score_and_relative_drop_rule(tmp_path: Path) -> None:
    truth, pred = _classifier(3, rows=1000)
    processor = _processor(tmp_path)
    search = span_with(
        {
            semconv.OPERATION_NAME: "fit",
            semconv.MODEL_NAME: "churn",
            semconv.MODEL_VERSION: "v1",
            semconv.SEARCH_BEST_SCORE: 0.95,
        }
    )
    summary = classification_summary(truth, pred)
    processor.consume(batch_of([search, performance_span(summary, "churn", "v1", 0.0)]))
    (result,) = processor.results()
    assert result.validation_score == 0.95
    accuracy = result.metrics["accuracy"]
    assert accuracy < 0.95 * 0.9
    drop = AlertRuleConfig("Drop", RuleKind.PERFORMANCE, max_drop=0.1)
    tolerant = AlertRuleConfig("Tolerant", RuleKind.PERFORMANCE, max_drop=0.5)
    ceiling = AlertRuleConfig("LogLoss", RuleKind.PERFORMANCE, metric="log_loss", threshold=0.1)
    other = AlertRuleConfig("Other", RuleKind.PERFORMANCE, threshold=0.99, models=("x",))
    (fired,) = performance_candidates((drop, tolerant, ceiling, other), result)
    assert fired.rule is drop
    assert fired.labels["metric"] == "accuracy"
    assert "from the validation score 0.95" in fired.insight
    with pytest.raises(ConfigError, match="max_drop"):
        AlertRuleConfig("Bad", RuleKind.PERFORMANCE, max_drop=1.5).validate()
    with pytest.raises(ConfigError, match="needs a threshold"):
        AlertRuleConfig("Bad", RuleKind.PERFORMANCE).validate()
    processor.shutdown()


def test_prometheus_families_respect_the_per_service_cap(tmp_path: Path) -> None:
    truth, pred = _classifier(4)
    summary = classification_summary(truth, pred)
    processor = _processor(tmp_path)
    processor.consume(batch_of([performance_span(summary, "big", f"v{i}", 0.0) for i in range(5)]))
    processor.consume(batch_of([performance_span(summary, "small", "v1", 0.0)], service="other"))
    config = MetricsConfig(max_series_per_metric=100, max_series_per_service=4)
    families = {f.name: f for f in PerformanceMetrics(processor, config).collect()}
    series = families["mlspan_model_performance"].samples
    by_service: dict[str, int] = {}
    for sample in series:
        by_service[sample.labels["service"]] = by_service.get(sample.labels["service"], 0) + 1
    assert by_service["svc"] == 4
    assert by_service["other"] == 4  # accuracy, precision, recall, F1 (no probabilities)
    refused = {s.labels["reason"]: s.value for s in families["mlspan_performance_refused"].samples}
    assert refused["series"] == 5 * 4 - 4
    processor.shutdown()


def test_window_listener_gets_the_changed_versions_windows(tmp_path: Path) -> None:
    truth, pred = _classifier(5)
    processor = _processor(tmp_path)
    seen: list[tuple[ModelKey, list[float], int]] = []

    def listener(key: ModelKey, windows: Sequence[Window]) -> None:
        seen.append((key, [w.start for w in windows], sum(w.summary.count for w in windows)))

    def failing(key: ModelKey, windows: Sequence[Window]) -> None:
        raise RuntimeError("a broken listener")

    processor.add_window_listener(failing)
    processor.add_window_listener(listener)
    summary = classification_summary(truth, pred)
    processor.consume(batch_of([performance_span(summary, "churn", "v1", HOUR)]))
    processor.consume(batch_of([performance_span(summary, "churn", "v1", 0.0)]))
    key = ModelKey("svc", "churn", "v1")
    assert seen == [(key, [HOUR], 200), (key, [0.0, HOUR], 400)]
    processor.shutdown()
