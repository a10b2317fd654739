"""Performance spans as the application emits them, in parsed OTLP batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_codec import performance_attributes
from tests.support.spans import AttributeValue, key_values


def performance_span(
    summary: PerformanceSummary,
    model: str,
    version: str,
    start: float,
    *,
    predictions: int | None = None,
    length: float = 3600.0,
) -> trace_pb2.Span:
    """A ``labels`` span carrying ``summary`` for the window ``[start, start + length)``."""
    attributes: dict[str, AttributeValue] = {
        semconv.OPERATION_NAME: "labels",
        semconv.MODEL_NAME: model,
        semconv.MODEL_VERSION: version,
        semconv.PERFORMANCE_WINDOW_START: int(start),
        semconv.PERFORMANCE_WINDOW_END: int(start + length),
    }
    attributes.update(performance_attributes(summary))  # type: ignore[arg-type]
    if predictions is not None:
        attributes[semconv.OUTCOME_PREDICTIONS] = predictions
    return span_with(attributes)


def span_with(attributes: Mapping[str, AttributeValue]) -> trace_pb2.Span:
    """A span with ``attributes`` (and a fixed name and times)."""
    return trace_pb2.Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        name="labels",
        start_time_unix_nano=1_000_000_000,
        end_time_unix_nano=2_000_000_000,
        attributes=key_values(dict(attributes)),
    )


def batch_of(spans: Sequence[trace_pb2.Span], service: str = "svc") -> TraceBatch:
    """The parsed batch of one export request of ``spans`` from ``service``."""
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(attributes=key_values({"service.name": service})),
                scope_spans=[trace_pb2.ScopeSpans(spans=list(spans))],
            )
        ]
    )
    return TraceBatch.from_bytes(FastSchema.build(), request.SerializeToString())
