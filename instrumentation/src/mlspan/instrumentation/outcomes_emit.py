"""Performance spans: one mergeable performance summary of one model version and window.

The span carries the summary's ``mlspan.performance.*`` attributes
(``mlspan.summaries.performance_codec``), the model's version and name, the window and,
for labels joined to the prediction log, the join counts. No per-row value is on it.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from mlspan.semconv import (
    MODEL_NAME,
    MODEL_VERSION,
    OPERATION_NAME,
    PERFORMANCE_WINDOW_END,
    PERFORMANCE_WINDOW_START,
    OperationName,
)
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_codec import performance_attributes


def emit_performance(
    tracer: trace.Tracer,
    operation: OperationName,
    version: str,
    name: str,
    window: tuple[int, int],
    summary: PerformanceSummary,
    extra: Mapping[str, AttributeValue] | None = None,
) -> None:
    """Record one performance span (a root span: it belongs to no user request)."""
    attributes: dict[str, AttributeValue] = {
        OPERATION_NAME: operation.value,
        MODEL_VERSION: version,
        MODEL_NAME: name,
        PERFORMANCE_WINDOW_START: window[0],
        PERFORMANCE_WINDOW_END: window[1],
    }
    for key, value in performance_attributes(summary).items():
        attributes[key] = list(value) if isinstance(value, (list, tuple)) else value
    if extra:
        attributes.update(extra)
    span = tracer.start_span(
        f"{operation.value} {name}", context=trace.set_span_in_context(trace.INVALID_SPAN)
    )
    try:
        if span.is_recording():
            span.set_attributes(attributes)
    finally:
        span.end()
