"""Feature summary events: one per feature, never truncated, correctly classified."""

from __future__ import annotations

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import SpanLimits
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from mlspan.instrumentation.features import Column, FeatureClassifier
from mlspan.instrumentation.model_version import model_version_of
from mlspan.instrumentation.options import InstrumentationOptions
from mlspan.instrumentation.summarize import Summarizer
from mlspan.semconv import (
    DATASET_ROLE,
    FEATURE_KIND,
    FEATURE_NAME,
    MODEL_VERSION,
    SUMMARY_CALLS,
    FeatureKind,
    FeatureOrigin,
)
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.instrumentation.instrumented import instrumented, operation, summary_events


def wide(rows: int = 120, columns: int = 1000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"f{i}" for i in range(columns)])
    return x, rng.normal(size=rows)


def test_1000_columns_yield_1000_summaries_with_a_default_provider() -> None:
    x, y = wide()
    with instrumented() as exporter:
        model = LinearRegression().fit(x, y)
    spans = exporter.get_finished_spans()
    fit = next(span for span in spans if span.name == "fit LinearRegression")
    chunks = [s for s in spans if s.parent is not None and s.parent.span_id == fit.context.span_id]
    assert all(operation(s) == "summary" and len(s.events) <= 128 for s in chunks)
    assert all(dict(s.attributes or {})[MODEL_VERSION] == model_version_of(model) for s in chunks)
    assert all(dict(s.attributes or {})[DATASET_ROLE] == "train" for s in chunks)
    events = summary_events(fit) + [e for s in chunks for e in summary_events(s)]
    names = [str(event[FEATURE_NAME]) for event in events]
    assert sorted(names) == sorted([f"f{i}" for i in range(1000)] + ["y"])
    decoded = [FeatureSummary.from_attributes(event) for event in events]
    assert all(summary.stats.count == 120 for summary in decoded)


def test_raised_limits_keep_1000_summaries_on_the_operation_span() -> None:
    x, y = wide(rows=10)
    limits = SpanLimits(max_events=2000)
    with instrumented(limits=limits, summary_events_per_span=2000, online_max_rows=0) as exporter:
        LinearRegression().fit(x, y)
    (span,) = exporter.get_finished_spans()
    assert len(summary_events(span)) == 1001


def test_a_lower_sdk_limit_lowers_the_chunk_size() -> None:
    x, y = wide(rows=10, columns=300)
    with instrumented(limits=SpanLimits(max_events=50), online_max_rows=0) as exporter:
        LinearRegression().fit(x, y)
    spans = exporter.get_finished_spans()
    assert sum(len(summary_events(s)) for s in spans) == 301
    assert max(len(s.events) for s in spans) <= 50


def test_summaries_hold_exact_statistics() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            "amount": np.r_[rng.normal(10, 2, 197), np.nan, np.inf, 3.0],
            "city": pd.Categorical(["a", "b", None, "a"] * 50),
            "when": pd.date_range("2024-01-01", periods=200, freq="h"),
        }
    )
    summaries = Summarizer.from_options(InstrumentationOptions()).summarize(
        x, FeatureOrigin.INPUT, "x"
    )
    amount, city, when = summaries
    assert isinstance(amount.stats, NumericalSummary)
    assert (amount.stats.count, amount.stats.nulls, amount.stats.nan, amount.stats.inf) == (
        200,
        1,
        1,
        1,
    )
    finite = x["amount"][np.isfinite(x["amount"])]
    assert np.isclose(amount.stats.moments.mean, finite.mean())
    assert isinstance(city.stats, CategoricalSummary) and city.kind is FeatureKind.CATEGORICAL
    assert dict(city.stats.counts) == {"a": 100, "b": 50} and city.stats.nulls == 50
    assert when.kind is FeatureKind.NUMERICAL and when.stats.count == 200


def test_data_format_identifier_thresholds() -> None:
    classifier = FeatureClassifier(integer_max_unique=5, min_rows=100)
    ratings = np.tile(np.arange(3), 50)
    assert classifier.classify(Column("r", "int64", ratings)) is FeatureKind.CATEGORICAL
    assert classifier.classify(Column("r", "int64", ratings[:10])) is FeatureKind.NUMERICAL
    assert classifier.classify(Column("a", "int64", np.arange(150))) is FeatureKind.NUMERICAL
    assert FeatureClassifier().classify(Column("r", "int64", ratings)) is FeatureKind.NUMERICAL
    for values in (np.array([True, False]), np.array(["a"]), pd.Series(["a"], dtype="string")):
        assert (
            classifier.classify(Column("c", str(values.dtype), values)) is FeatureKind.CATEGORICAL
        )
    nullable = pd.Series([1, None] * 100, dtype="Int64")
    assert classifier.classify(Column("n", "Int64", nullable)) is FeatureKind.CATEGORICAL


def test_fit_time_kinds_are_reused_for_small_batches() -> None:
    x = pd.DataFrame({"rating": np.tile(np.arange(3), 100), "v": np.linspace(0, 1, 300)})
    y = (x["v"] > 0.5).astype(int)
    options = {"integer_categorical_max_unique": 5, "online_max_rows": 0}
    with instrumented(**options) as exporter:
        model = LogisticRegression().fit(x, y)
        model.predict(x.iloc[:4])
    predict = next(s for s in exporter.get_finished_spans() if s.name.startswith("predict"))
    kinds = {e[FEATURE_NAME]: e[FEATURE_KIND] for e in summary_events(predict)}
    assert kinds["rating"] == "categorical"


def test_online_calls_get_light_spans_and_one_summary_span() -> None:
    x = pd.DataFrame({"a": np.arange(300.0), "b": np.arange(300.0) % 7})
    y = (x["a"] > 150).astype(int)
    options = {"online_max_rows": 10, "online_flush_rows": 50, "online_root_span_seconds": 0}
    with instrumented(**options) as exporter:
        model = LogisticRegression().fit(x, y)
        exporter.clear()
        for start in range(0, 120, 2):
            model.predict(x.iloc[start : start + 2])
    spans = exporter.get_finished_spans()
    light = [s for s in spans if s.name == "predict LogisticRegression"]
    summaries = [s for s in spans if operation(s) == "summary"]
    assert len(light) == 60 and all(not s.events for s in light)
    assert all(dict(s.attributes or {})[MODEL_VERSION] == model_version_of(model) for s in light)
    # 50 rows flush twice during the loop, the last 20 rows at uninstrument.
    calls = [dict(s.attributes or {})[SUMMARY_CALLS] for s in summaries]
    assert calls == [25, 25, 10]
    rows = [FeatureSummary.from_attributes(summary_events(s)[0]).stats.count for s in summaries]
    assert rows == [50, 50, 20]
    origins = {e["mlspan.feature.origin"] for s in summaries for e in summary_events(s)}
    assert origins == {"input", "prediction"}


def test_bare_online_calls_get_a_root_span_at_most_every_interval() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.instrumentation.instrumented import provider_with

    x = pd.DataFrame({"a": np.arange(300.0), "b": np.arange(300.0) % 7})
    y = (x["a"] > 150).astype(int)
    exporter = InMemorySpanExporter()
    provider = provider_with(exporter)
    with instrumented(provider=provider, online_max_rows=10, online_flush_rows=1000):
        model = LogisticRegression().fit(x, y)
        exporter.clear()
        for start in range(0, 120, 2):  # a bare loop: one root span in the interval
            model.predict(x.iloc[start : start + 2])
        with provider.get_tracer("app").start_as_current_span("request") as request:
            for start in range(0, 20, 2):  # inside a trace: a child span per call
                model.predict(x.iloc[start : start + 2])
    spans = exporter.get_finished_spans()
    light = [s for s in spans if s.name == "predict LogisticRegression"]
    roots = [s for s in light if s.parent is None]
    children = [s for s in light if s.parent is not None]
    assert len(roots) == 1 and len(children) == 10
    assert all(s.parent.span_id == request.get_span_context().span_id for s in children)  # type: ignore[union-attr]
    (summary,) = [s for s in spans if operation(s) == "summary"]
    assert dict(summary.attributes or {})[SUMMARY_CALLS] == 70  # every call is counted
    assert FeatureSummary.from_attributes(summary_events(summary)[0]).stats.count == 140


def test_small_transform_calls_accumulate_inputs_only() -> None:
    x = np.arange(20.0).reshape(10, 2)
    with instrumented(online_max_rows=5) as exporter:
        scaler = StandardScaler().fit(x)
        scaler.transform(x[:2])
    (summary,) = [s for s in exporter.get_finished_spans() if operation(s) == "summary"]
    assert [e[FEATURE_NAME] for e in summary_events(summary)] == ["x0", "x1"]


def test_by_default_only_the_outermost_call_is_summarised() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
    with instrumented(nested_summaries=False) as exporter:
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
        model.predict_proba(x)
    summarised = {span.name for span in exporter.get_finished_spans() if summary_events(span)}
    assert summarised == {"fit Pipeline", "predict_proba Pipeline"}
    with instrumented(nested_summaries=True) as exporter:
        make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y).predict_proba(x)
    summarised = {span.name for span in exporter.get_finished_spans() if summary_events(span)}
    assert "predict_proba LogisticRegression" in summarised
