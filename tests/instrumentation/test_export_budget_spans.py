"""No span mlspan creates exceeds its byte budget (1 MiB), whatever the data looks like.

Summaries are packed on child spans by bytes as well as by count; a summary too large
for any span is shrunk (a smaller KLL sketch, the most frequent categories) and still
decodes, merges and compares as the collector does it; a huge hyperparameter JSON is
shortened and stays valid JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import OneHotEncoder

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.instrumentation.emit import emit_online_batch
from mlspan.instrumentation.online import ModelKey, OnlineBatch
from mlspan.instrumentation.span_budget import (
    DEFAULT_MAX_SPAN_BYTES,
    shorten_text,
    summary_event,
    summary_event_bytes,
)
from mlspan.semconv import (
    FEATURE_NAME,
    MODEL_NAME,
    MODEL_PARAMS,
    OPERATION_NAME,
    SUMMARY_SKETCH_TYPE,
)
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from mlspan.summaries.codec import FeatureKind, FeatureOrigin
from tests.instrumentation.instrumented import instrumented, provider_with, summary_events


def encoded(span: ReadableSpan) -> int:
    return int(encode_spans([span]).ByteSize())


def decoded(spans: list[ReadableSpan]) -> list[FeatureSummary]:
    return [FeatureSummary.from_attributes(e) for s in spans for e in summary_events(s)]


def test_wide_inputs_with_large_sketches_spread_over_spans_within_the_budget() -> None:
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(3000, 600)), columns=[f"f{i}" for i in range(600)])
    y = rng.normal(size=3000)
    limits = SpanLimits(max_events=4096)
    with instrumented(limits=limits, summary_events_per_span=4096, kll_k=2000) as memory:
        LinearRegression().fit(x, y)
    spans = list(memory.get_finished_spans())
    assert len(spans) > 10  # ~18 MB of summaries: bytes, not the event count, split them
    assert max(encoded(span) for span in spans) <= DEFAULT_MAX_SPAN_BYTES
    summaries = decoded(spans)
    assert sorted(s.name for s in summaries) == sorted([f"f{i}" for i in range(600)] + ["y"])
    assert all(s.stats.count == 3000 for s in summaries)
    assert {str(s.stats.sketch_type) for s in summaries} == {"kll_doubles:2000"}


def test_a_sketch_too_large_for_any_span_is_merged_into_a_smaller_one() -> None:
    values = np.random.default_rng(1).normal(size=200_000)
    stats = NumericalSummary.from_values(values, k=65535)
    summary = FeatureSummary("x", FeatureKind.NUMERICAL, FeatureOrigin.INPUT, "float64", stats)
    assert summary_event_bytes(summary.to_attributes()) > 1_000_000
    attributes, size = summary_event(summary, 200_000)
    assert size <= 200_000 and summary_event_bytes(attributes) == size
    back = FeatureSummary.from_attributes(attributes)
    assert isinstance(back.stats, NumericalSummary)
    assert back.stats.k < 65535
    assert attributes[SUMMARY_SKETCH_TYPE] == f"kll_doubles:{back.stats.k}"
    assert back.stats.count == 200_000 and back.stats.moments == stats.moments
    assert abs(back.stats.sketch().get_quantile(0.5) - float(np.median(values))) < 0.05
    merged = back.merge(back)  # mergeable as the collector merges windows
    assert merged.stats.count == 400_000


def test_a_wide_categorical_keeps_its_most_frequent_values_marked_inexact() -> None:
    counts = {f"customer-{i:06d}-{'x' * 40}": 100_000 - i for i in range(60_000)}
    stats = CategoricalSummary.from_counts(counts, nulls=7, cap=100_000)
    summary = FeatureSummary(
        "customer", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "object", stats
    )
    assert summary_event_bytes(summary.to_attributes()) > 3_000_000
    attributes, size = summary_event(summary, 500_000)
    assert size <= 500_000
    back = FeatureSummary.from_attributes(attributes)
    assert isinstance(back.stats, CategoricalSummary)
    assert not back.stats.exact
    assert back.stats.count == stats.count and back.stats.nulls == 7
    kept = dict(back.stats.counts)
    assert 1000 < len(kept) < 60_000
    assert kept == {key: counts[key] for key in list(counts)[: len(kept)]}  # the most frequent
    comparison = compare_categorical(stats, back.stats)
    assert comparison.values["js"] < 0.2  # the rest is compared as "other"


def test_a_huge_hyperparameter_json_is_shortened_and_stays_valid() -> None:
    categories = [f"code-{i:07d}" for i in range(300_000)]
    x = pd.DataFrame({"code": categories[:1000]})
    with instrumented() as memory:
        OneHotEncoder(categories=[categories], handle_unknown="ignore").fit(x)
    (fit,) = [s for s in memory.get_finished_spans() if s.name == "fit OneHotEncoder"]
    params = str(dict(fit.attributes or {})[MODEL_PARAMS])
    assert len(params.encode()) <= DEFAULT_MAX_SPAN_BYTES // 2
    document = json.loads(params)
    assert document["handle_unknown"] == "ignore"
    (kept,) = document["categories"]
    assert kept[:3] == categories[:3] and "omitted" in kept[-1]
    assert encoded(fit) <= DEFAULT_MAX_SPAN_BYTES


def test_shortened_text_fits_and_says_so() -> None:
    text = "é" * 100_000
    short = shorten_text(text, 1000)
    assert len(short.encode()) <= 1000 and "cut" in short and short.startswith("éé")
    nested = json.dumps({"a": {"b": list(range(100_000))}, "small": 1})
    document = json.loads(shorten_text(nested, 2000))
    assert document["small"] == 1 and "omitted" in document["a"]["b"][-1]
    assert shorten_text("short", 10) == "short"


def test_online_summaries_are_packed_by_bytes_too() -> None:
    rng = np.random.default_rng(2)
    summaries = tuple(
        FeatureSummary(
            f"f{i}",
            FeatureKind.NUMERICAL,
            FeatureOrigin.INPUT,
            "float64",
            NumericalSummary.from_values(rng.normal(size=4000), k=2000),
        )
        for i in range(200)
    )
    memory = InMemorySpanExporter()
    tracer = provider_with(memory, SpanLimits(max_events=1000)).get_tracer("online")
    key = ModelKey("model:v1", "m", ((MODEL_NAME, "m"),))
    emit_online_batch(tracer, OnlineBatch(key, 3, 12, summaries), per_span=1000)
    spans = list(memory.get_finished_spans())
    assert len(spans) > 4
    assert max(encoded(span) for span in spans) <= DEFAULT_MAX_SPAN_BYTES
    assert all(dict(s.attributes or {})[OPERATION_NAME] == "summary" for s in spans)
    names = sorted(str(e[FEATURE_NAME]) for s in spans for e in summary_events(s))
    assert names == sorted(f"f{i}" for i in range(200))
