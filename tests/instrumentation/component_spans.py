"""Helpers shared by the component tests: a recording provider and span accessors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@contextmanager
def recording_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A tracer provider that hands every finished span to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        provider.shutdown()


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def string_list(span: ReadableSpan, key: str) -> list[str]:
    """A string-array attribute of ``span`` as a list."""
    assert span.attributes is not None
    value = span.attributes[key]
    assert isinstance(value, tuple)
    return [str(item) for item in value]


def exception_messages(span: ReadableSpan) -> list[str]:
    return [
        str((event.attributes or {}).get("exception.message"))
        for event in span.events
        if event.name == "exception"
    ]


@pytest.fixture
def recording() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    with recording_provider() as pair:
        yield pair


@pytest.fixture
def provider(recording: tuple[TracerProvider, InMemorySpanExporter]) -> TracerProvider:
    return recording[0]


@pytest.fixture
def exporter(recording: tuple[TracerProvider, InMemorySpanExporter]) -> InMemorySpanExporter:
    return recording[1]
