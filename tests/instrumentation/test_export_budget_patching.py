"""The export budget on the OTLP exporter classes: split, drop, fail, and restore exactly.

The exporters are the real OTLP/gRPC and OTLP/HTTP span exporters sending to a real
receiver on 127.0.0.1 (``OtlpSink``, gRPC's default 4 MiB receive limit).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from wrapt import FunctionWrapper

import mlspan.instrumentation
from mlspan.instrumentation.export_budget import OtlpBudgetInstrumentor
from mlspan.instrumentation.otlp_size import request_bytes
from tests.support.otlp_sink import OtlpSink

pytestmark = pytest.mark.slow

EXPORTERS = (OTLPSpanExporter, HttpSpanExporter)


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


@pytest.fixture
def budget() -> Iterator[OtlpBudgetInstrumentor]:
    instrumentor = OtlpBudgetInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def spans_of(sizes: list[int]) -> list[ReadableSpan]:
    """Finished SDK spans, each with one string attribute of about ``size`` bytes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("budget-test")
    for index, size in enumerate(sizes):
        with tracer.start_as_current_span(f"span {index}") as span:
            span.set_attribute("payload", "x" * size)
    return list(memory.get_finished_spans())


def test_uninstrument_restores_the_exporter_methods_exactly(
    budget: OtlpBudgetInstrumentor,
) -> None:
    originals = {cls: vars(cls)["export"] for cls in EXPORTERS}
    budget.instrument()
    for cls in EXPORTERS:
        assert isinstance(vars(cls)["export"], FunctionWrapper)
        assert vars(cls)["export"].__wrapped__ is originals[cls]
    budget.uninstrument()
    for cls in EXPORTERS:
        assert vars(cls)["export"] is originals[cls]
    budget.instrument()  # and again, after a full cycle
    assert isinstance(vars(OTLPSpanExporter)["export"], FunctionWrapper)
    mlspan.instrumentation.uninstrument()
    assert all(vars(cls)["export"] is originals[cls] for cls in EXPORTERS)


def test_a_batch_is_split_into_requests_within_the_budget(
    sink: OtlpSink, budget: OtlpBudgetInstrumentor
) -> None:
    budget.instrument(max_request_bytes=1_000_000)
    spans = spans_of([150_000] * 20)  # 3 MB in one batch
    exporter = OTLPSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert sink.span_count == 20
    assert len(sink.requests) >= 4
    assert max(request.ByteSize() for request in sink.requests) <= 1_000_000
    stats = budget.stats
    assert (stats.batches, stats.requests, stats.exported) == (1, len(sink.requests), 20)
    assert stats.dropped == stats.failed == 0
    assert stats.largest_request_bytes <= 1_000_000


def test_the_http_exporter_is_split_as_well(sink: OtlpSink, budget: OtlpBudgetInstrumentor) -> None:
    budget.instrument(max_request_bytes=1_000_000)
    exporter = HttpSpanExporter(endpoint=sink.http_endpoint)
    try:
        assert exporter.export(spans_of([150_000] * 20)) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert sink.protocols == ["http"] * len(sink.requests) and len(sink.requests) >= 4
    assert sink.span_count == 20
    assert max(request.ByteSize() for request in sink.requests) <= 1_000_000


def test_a_span_above_the_budget_is_dropped_counted_and_logged_once(
    sink: OtlpSink, budget: OtlpBudgetInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    budget.instrument(max_request_bytes=100_000)
    exporter = OTLPSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
    caplog.set_level(logging.WARNING, logger="mlspan.instrumentation.export_budget")
    try:
        first = exporter.export(spans_of([10, 200_000, 10]))
        second = exporter.export(spans_of([300_000, 10]))
    finally:
        exporter.shutdown()
    assert first is second is SpanExportResult.FAILURE  # not everything was exported
    assert sink.span_count == 3
    stats = budget.stats
    assert (stats.exported, stats.dropped, stats.failed) == (3, 2, 0)
    assert stats.largest_dropped_bytes >= 300_000
    warnings = [r for r in caplog.records if r.name == "mlspan.instrumentation.export_budget"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "OTEL_INSTRUMENTATION_MLSPAN_MAX_REQUEST_BYTES" in message
    assert "max_request_bytes" in message


def test_a_failed_request_fails_the_batch_and_two_in_a_row_stop_it(
    sink: OtlpSink, budget: OtlpBudgetInstrumentor
) -> None:
    budget.instrument(max_request_bytes=100_000)
    spans = spans_of([60_000] * 6)  # one span per request
    assert all(request_bytes([span]) < 100_000 for span in spans)
    exporter = OTLPSpanExporter(endpoint=sink.grpc_endpoint, insecure=True)
    try:
        sink.fail_next(1, grpc_code=grpc.StatusCode.INVALID_ARGUMENT)
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert sink.span_count == 5  # one refused, the others sent
        sink.clear()
        sink.fail_next(2, grpc_code=grpc.StatusCode.INVALID_ARGUMENT)
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert sink.span_count == 0  # two in a row: the destination refuses, stop
    finally:
        exporter.shutdown()
    stats = budget.stats
    assert (stats.exported, stats.failed, stats.requests) == (5, 1 + 6, 6 + 2)
