"""The size estimate behind the export budget: an upper bound of the real OTLP encoding.

Every bound is checked against ``encode_spans(...).ByteSize()`` of the exporter's own
encoder, on spans built with the real SDK: many attributes of every type, double
arrays, non-ASCII text and keys, strings across every varint width, events, links,
trace state, error status, several resources and instrumentation scopes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags, TraceState
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from mlspan.instrumentation.export_budget import plan_requests
from mlspan.instrumentation.otlp_size import event_bytes, request_bytes, span_bytes
from mlspan.instrumentation.span_budget import summary_event_bytes
from mlspan.semconv import FEATURE_SUMMARY
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from mlspan.summaries.codec import FeatureKind, FeatureOrigin
from tests.instrumentation.instrumented import instrumented

LIMITS = SpanLimits(max_span_attributes=2000, max_events=2000, max_event_attributes=2000)


def real_size(spans: list[ReadableSpan]) -> int:
    return int(encode_spans(spans).ByteSize())


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.clear()


def provider(exporter: InMemorySpanExporter, **resource: str) -> TracerProvider:
    sdk = TracerProvider(resource=Resource.create(resource), span_limits=LIMITS)
    sdk.add_span_processor(SimpleSpanProcessor(exporter))
    return sdk


def varied_attributes(seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    attributes: dict[str, object] = {
        "text": "plain",
        "empty": "",
        "accents": "données d'entraînement é" * 3,
        "emoji": "🧪📈" * 40,
        "négatif": -1,
        "int.min": -(2**63),
        "int.max": 2**63 - 1,
        "zero": 0,
        "float": 0.1,
        "nan": float("nan"),
        "flag": True,
        "off": False,
        "doubles": rng.normal(size=500).tolist(),
        "ints": rng.integers(-(2**40), 2**40, size=300).tolist(),
        "bools": [True, False, True],
        "strings": ["a", "ü", "", "x" * 300],
        "empty.list": [],
        "k" * 150: "a long key",
        "clé.ünïcode": 3.5,
    }
    for length in (127, 128, 129, 16_383, 16_384, 2_097_151, 2_097_152):
        attributes[f"len.{length}"] = "s" * length
    for index in range(400):
        attributes[f"attribute.{index}"] = [index, f"v{index}", index * 0.5, index % 2 == 0][
            index % 4
        ]
    return attributes


def make_varied_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    first = provider(exporter, **{"service.name": "size-test", "é": "ü" * 50})
    second = provider(exporter, **{"service.name": "other"})
    scoped = first.get_tracer("scope.a", "1.2.3", schema_url="https://example.com/schema")
    plain = first.get_tracer("scope.b")
    other = second.get_tracer("scope.c", "0.1")
    remote = SpanContext(
        trace_id=0xABC,
        span_id=0xDEF,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "value"), ("mlspan", "x" * 40)]),
    )
    link = Link(remote, {"link.attribute": "ü" * 20, "link.count": 3, "link.list": [1.5, 2.5]})
    with scoped.start_as_current_span(
        "parent ü", context=trace.set_span_in_context(trace.NonRecordingSpan(remote))
    ) as parent:
        parent.set_attributes(varied_attributes(1))  # type: ignore[arg-type]
        for index in range(300):
            parent.add_event(
                f"event {index} é",
                {"index": index, "payload": "p" * (index * 7), "doubles": [0.5] * (index % 9)},
            )
        parent.set_status(Status(StatusCode.ERROR, "failed: données invalides" * 10))
        with plain.start_as_current_span("child", links=[link, link]) as child:
            child.set_attribute("tiny", 1)
        with plain.start_as_current_span("bare"):
            pass
    with other.start_as_current_span("other resource") as span:
        span.set_attributes(varied_attributes(2))  # type: ignore[arg-type]
    return list(exporter.get_finished_spans())


def test_the_estimate_bounds_each_span_and_the_whole_request(
    exporter: InMemorySpanExporter,
) -> None:
    spans = make_varied_spans(exporter)
    assert len(spans) == 4
    for span in spans:
        assert request_bytes([span]) >= real_size([span]), span.name
    estimate, real = request_bytes(spans), real_size(spans)
    assert estimate >= real
    assert estimate <= real * 1.05, (estimate, real)


def test_planned_requests_are_within_the_budget_and_their_estimate(
    exporter: InMemorySpanExporter,
) -> None:
    spans = make_varied_spans(exporter) * 3
    budget = 2 * max(request_bytes([span]) for span in spans)
    plan = plan_requests(spans, budget)
    assert not plan.oversized
    assert [span for request in plan.requests for span in request] == spans
    assert len(plan.requests) > 1
    for request, size in zip(plan.requests, plan.sizes, strict=True):
        assert real_size(request) <= size <= budget


def test_a_span_larger_than_the_budget_alone_is_set_apart(
    exporter: InMemorySpanExporter,
) -> None:
    spans = make_varied_spans(exporter)
    big = max(spans, key=lambda span: request_bytes([span]))
    plan = plan_requests(spans, request_bytes([big]) - 1)
    assert plan.oversized == [big]
    assert plan.oversized_sizes[0] >= real_size([big])
    assert sum(len(request) for request in plan.requests) == len(spans) - 1


attribute_values = st.one_of(
    st.text(max_size=300),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.floats(allow_nan=False), max_size=50),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=20),
    st.lists(st.text(max_size=40), max_size=20),
    st.lists(st.booleans(), max_size=10),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=120), attribute_values, max_size=30),
    name=st.text(max_size=80),
    events=st.lists(
        st.tuples(
            st.text(max_size=30),
            st.dictionaries(st.text(min_size=1, max_size=30), attribute_values, max_size=8),
        ),
        max_size=6,
    ),
)
def test_the_estimate_bounds_arbitrary_attributes(
    attributes: dict[str, object], name: str, events: list[tuple[str, dict[str, object]]]
) -> None:
    memory = InMemorySpanExporter()
    tracer = provider(memory).get_tracer("hypothesis")
    with tracer.start_as_current_span(name) as span:
        span.set_attributes(attributes)  # type: ignore[arg-type]
        for event_name, event_attributes in events:
            span.add_event(event_name, event_attributes)  # type: ignore[arg-type]
    spans = list(memory.get_finished_spans())
    assert request_bytes(spans) >= real_size(spans)


def summaries() -> list[FeatureSummary]:
    numbers = NumericalSummary.from_values(np.random.default_rng(0).normal(size=5000))
    empty = NumericalSummary.from_values(np.array([np.nan, np.nan]))
    wide = CategoricalSummary.from_counts({f"valeur-{i}-é": i + 1 for i in range(2000)}, cap=100)
    exact = CategoricalSummary.from_counts({"a": 3, "ü": 2}, nulls=1)
    return [
        FeatureSummary("x", FeatureKind.NUMERICAL, FeatureOrigin.INPUT, "float64", numbers),
        FeatureSummary("vide", FeatureKind.NUMERICAL, FeatureOrigin.INPUT, "float64", empty),
        FeatureSummary("ville ü", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "object", wide),
        FeatureSummary("c" * 200, FeatureKind.CATEGORICAL, FeatureOrigin.TARGET, "object", exact),
    ]


def test_the_summary_event_bound_covers_the_encoded_event(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = provider(exporter).get_tracer("summaries")
    for summary in summaries():
        attributes = summary.to_attributes()
        assert summary_event_bytes(attributes) >= event_bytes(FEATURE_SUMMARY, attributes)
        with tracer.start_as_current_span("fit") as span:
            span.add_event(FEATURE_SUMMARY, attributes)
        with tracer.start_as_current_span("fit"):
            pass
    finished = list(exporter.get_finished_spans())
    for summary, (with_event, bare) in zip(
        summaries(), zip(finished[::2], finished[1::2], strict=True), strict=True
    ):
        encoded_event = real_size([with_event]) - real_size([bare])
        assert summary_event_bytes(summary.to_attributes()) >= encoded_event, summary.name


def test_the_estimate_is_a_small_fraction_of_encoding_a_64_feature_fit_span() -> None:
    x, y = load_digits(return_X_y=True)
    with instrumented() as memory:
        StandardScaler().fit(x, y)
    (span,) = [s for s in memory.get_finished_spans() if s.name == "fit StandardScaler"]
    assert len(span.events) == 65
    estimate = real = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        span_bytes(span)
        estimate = min(estimate, time.perf_counter() - started)
        started = time.perf_counter()
        encode_spans([span]).SerializeToString()
        real = min(real, time.perf_counter() - started)
    assert estimate < 0.25 * real, (estimate, real)
    assert real_size([span]) <= request_bytes([span]) <= real_size([span]) * 1.05
