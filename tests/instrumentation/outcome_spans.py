"""Helpers for the outcomes tests: a recorder on an in-memory exporter, decoded spans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlspan.instrumentation.outcomes import OutcomeRecorder
from mlspan.semconv import MODEL_VERSION, PERFORMANCE_WINDOW_START
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_codec import decode_performance


def provider_and_exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@contextmanager
def recorder_at(
    path: Path, **options: Any
) -> Iterator[tuple[OutcomeRecorder, InMemorySpanExporter]]:
    provider, exporter = provider_and_exporter()
    options.setdefault("emit_seconds", 3600.0)
    recorder = OutcomeRecorder(path, tracer_provider=provider, **options)
    try:
        yield recorder, exporter
    finally:
        recorder.close()
        provider.shutdown()


def merged_by_window(spans: tuple[ReadableSpan, ...]) -> dict[tuple[str, int], PerformanceSummary]:
    """Every span's decoded summary, merged per (model version, window start)."""
    out: dict[tuple[str, int], PerformanceSummary] = {}
    for span in spans:
        attributes = dict(span.attributes or {})
        key = (str(attributes[MODEL_VERSION]), int(attributes[PERFORMANCE_WINDOW_START]))  # type: ignore[call-overload]
        summary = decode_performance(attributes)
        out[key] = summary if key not in out else out[key].merge(summary)
    return out
