"""Test support: instrument both libraries on an injected provider with an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlspan.instrumentation.pandas import PandasInstrumentor
from mlspan.instrumentation.sklearn import SklearnInstrumentor
from mlspan.semconv import FEATURE_SUMMARY, OPERATION_NAME


def provider_with(
    exporter: InMemorySpanExporter, limits: SpanLimits | None = None
) -> TracerProvider:
    """A provider exporting synchronously to ``exporter`` (never the global provider)."""
    provider = TracerProvider(span_limits=limits) if limits else TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@contextmanager
def instrumented(
    limits: SpanLimits | None = None, provider: TracerProvider | None = None, **options: Any
) -> Iterator[InMemorySpanExporter]:
    """Both instrumentors active on a fresh provider for the duration of the block."""
    exporter = InMemorySpanExporter()
    provider = provider or provider_with(exporter, limits)
    SklearnInstrumentor().instrument(tracer_provider=provider, **options)
    PandasInstrumentor().instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        SklearnInstrumentor().uninstrument()
        PandasInstrumentor().uninstrument()


def spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    """Finished spans with this exact name."""
    return [span for span in exporter.get_finished_spans() if span.name == name]


def summary_events(span: ReadableSpan) -> list[dict[str, Any]]:
    """The attributes of each feature summary event on ``span``."""
    return [dict(e.attributes or {}) for e in span.events if e.name == FEATURE_SUMMARY]


def operation(span: ReadableSpan) -> str:
    """The span's operation attribute."""
    return str((span.attributes or {}).get(OPERATION_NAME))
