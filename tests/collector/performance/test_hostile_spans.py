"""Hostile spans through the real performance processor next to another service's valid
spans: windows past 2^63 or negative, NaN/Infinity in summaries and scores, counts out
of range, megabyte and NUL names, wrongly typed mlspan attributes. The valid service's
metrics must be exactly what they are alone, and the store must read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.collector.performance.config import PerformanceConfig
from mlspan.collector.performance.processor import STORE_FILE, PerformanceProcessor
from mlspan.collector.performance.results import VersionResult
from mlspan.collector.performance.store import PerformanceStore
from mlspan.collector.pipeline.factory import Host
from mlspan.summaries.performance_build import classification_summary, regression_summary
from tests.collector.experiments.test_hostile_spans import FAR, HUGE, INT64_MAX, batch
from tests.collector.experiments.test_hostile_spans import with_attribute as changed
from tests.collector.performance.spans import performance_span, span_with

HOUR = 3600.0


def processor(folder: Path) -> PerformanceProcessor:
    store = PerformanceStore(folder / STORE_FILE)
    built = PerformanceProcessor(PerformanceConfig(), Host(data_dir=folder), None, store)
    built.start()
    return built


def valid_spans(step: int) -> list[trace_pb2.Span]:
    rng = np.random.default_rng(step)
    truth = rng.integers(0, 2, 400)
    pred = np.where(rng.random(400) < 0.8, truth, 1 - truth)
    values = rng.normal(10, 3, 300)
    return [
        performance_span(classification_summary(truth, pred), "churn", "v1", step * HOUR),
        performance_span(regression_summary(values, values + 0.5), "price", "v2", step * HOUR),
    ]


def hostile_spans() -> list[trace_pb2.Span]:
    rng = np.random.default_rng(99)
    truth = rng.integers(0, 2, 50)
    good = performance_span(classification_summary(truth, truth), "churn", "v1", 0.0)
    regression = performance_span(regression_summary(np.ones(5), np.zeros(5)), "price", "v2", 0.0)
    far = trace_pb2.Span()
    far.CopyFrom(good)
    far.start_time_unix_nano = far.end_time_unix_nano = FAR
    return [
        far,
        changed(good, semconv.PERFORMANCE_WINDOW_START, INT64_MAX),
        changed(good, semconv.PERFORMANCE_WINDOW_END, INT64_MAX),
        changed(good, semconv.PERFORMANCE_WINDOW_START, -HOUR),
        changed(good, semconv.PERFORMANCE_WINDOW_END, float("nan")),
        changed(good, semconv.PERFORMANCE_WINDOW_END, "later"),
        changed(good, semconv.PERFORMANCE_COUNT, -1),
        changed(good, semconv.PERFORMANCE_COUNT, INT64_MAX),
        changed(good, semconv.PERFORMANCE_CONFUSION, "[[NaN,0],[0,Infinity]]"),
        changed(good, semconv.PERFORMANCE_CONFUSION, "[[1e309,0],[0,-1]]"),
        changed(good, semconv.PERFORMANCE_CONFUSION, "[" * 100_000),
        changed(good, semconv.PERFORMANCE_LABELS, [HUGE, "\x00"]),
        changed(good, semconv.PERFORMANCE_TASK, 7),
        changed(good, semconv.MODEL_VERSION, 2),
        changed(good, semconv.MODEL_NAME, HUGE),
        changed(good, semconv.MODEL_NAME, "nul\x00name"),
        changed(good, semconv.OUTCOME_PREDICTIONS, -4),
        changed(good, semconv.OUTCOME_PREDICTIONS, INT64_MAX),
        changed(regression, semconv.PERFORMANCE_REGRESSION, '{"count": NaN}'),
        changed(regression, semconv.PERFORMANCE_REGRESSION, '{"count":5,"sum_error":1e999}'),
        span_with({semconv.SEARCH_BEST_SCORE: float("nan"), semconv.MODEL_NAME: "churn"}),
        span_with(
            {
                semconv.SEARCH_BEST_SCORE: "0.9",
                semconv.MODEL_NAME: "churn",
                semconv.MODEL_VERSION: "v1",
            }
        ),
        span_with({semconv.PERFORMANCE_PREDICTED: "{" * 50_000, semconv.MODEL_NAME: "m"}),
    ]


def metrics_of(found: PerformanceProcessor) -> list[tuple[str, str, int, str]]:
    """Each version's count and metrics (as text: metrics without probabilities are NaN)."""
    results: list[VersionResult] = found.results(service="svc")
    return sorted((r.key.model, r.key.version, r.count, repr(r.metrics)) for r in results)


def test_hostile_spans_cost_the_valid_service_nothing(tmp_path: Path) -> None:
    alone = processor(tmp_path / "alone")
    for step in range(4):
        alone.consume(batch({"svc": valid_spans(step)}))
    expected = metrics_of(alone)
    assert [(model, count) for model, _, count, _ in expected] == [("churn", 1600), ("price", 1200)]
    alone.shutdown()

    mixed = processor(tmp_path / "mixed")
    for step in range(4):
        mixed.consume(batch({"evil": hostile_spans(), "svc": valid_spans(step)}))
    assert metrics_of(mixed) == expected
    assert mixed.state.refused["decode"] >= 4 * 15
    mixed.shutdown()
    restarted = processor(tmp_path / "mixed")
    assert metrics_of(restarted) == expected
    restarted.shutdown()
