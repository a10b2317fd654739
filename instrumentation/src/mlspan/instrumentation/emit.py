"""Putting feature summaries on spans without losing any to the SDK's limits.

The OpenTelemetry SDK keeps at most 128 events per span by default and silently drops
the rest. Up to that many summaries ride on the operation span itself; a wider input's
summaries go to child spans of operation ``summary`` (``mlspan.summary.calls`` = 1) that
carry the same model and dataset attributes, each holding at most the limit, so 1,000
columns give 1,000 summary events with any provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.online import OnlineBatch
from mlspan.semconv import (
    DATASET_ROLE,
    DATASET_ROWS,
    FEATURE_SUMMARY,
    OPERATION_NAME,
    SUMMARY_CALLS,
    DatasetRole,
    OperationName,
)
from mlspan.summaries import FeatureSummary


def event_limit(span: trace.Span, configured: int) -> int:
    """The most events ``span`` keeps: the configured chunk size, lowered to the SDK's limit."""
    limits = getattr(span, "_limits", None)
    sdk_limit = getattr(limits, "max_events", None)
    if isinstance(sdk_limit, int) and 0 < sdk_limit < configured:
        return sdk_limit
    return configured


def add_summaries(
    tracer: trace.Tracer,
    span: trace.Span,
    summaries: Sequence[FeatureSummary],
    context_attributes: Mapping[str, AttributeValue],
    per_span: int,
    span_name: str,
    calls: int = 1,
) -> None:
    """Attach one ``mlspan.feature.summary`` event per summary to ``span`` or its children.

    ``context_attributes`` (model and dataset identity) are copied onto each child span so
    a consumer reading only the child still knows whose summaries they are.
    """
    limit = event_limit(span, per_span)
    if len(summaries) <= limit:
        for summary in summaries:
            span.add_event(FEATURE_SUMMARY, summary.to_attributes())
        return
    _add_children(tracer, span, summaries, context_attributes, limit, span_name, calls)


def _add_children(
    tracer: trace.Tracer,
    span: trace.Span,
    summaries: Sequence[FeatureSummary],
    context_attributes: Mapping[str, AttributeValue],
    limit: int,
    span_name: str,
    calls: int,
) -> None:
    parent = trace.set_span_in_context(span)
    attributes = dict(context_attributes)
    attributes[OPERATION_NAME] = OperationName.SUMMARY.value
    attributes[SUMMARY_CALLS] = calls
    for start in range(0, len(summaries), limit):
        child = tracer.start_span(span_name, context=parent, attributes=attributes)
        for summary in summaries[start : start + limit]:
            child.add_event(FEATURE_SUMMARY, summary.to_attributes())
        child.end()


def emit_online_batch(tracer: trace.Tracer, batch: OnlineBatch, per_span: int) -> None:
    """Record accumulated online summaries as one root span of operation ``summary``."""
    attributes: dict[str, AttributeValue] = dict(batch.key.attributes)
    attributes[OPERATION_NAME] = OperationName.SUMMARY.value
    attributes[SUMMARY_CALLS] = batch.calls
    attributes[DATASET_ROWS] = batch.rows
    attributes[DATASET_ROLE] = DatasetRole.INFERENCE.value
    name = f"summary {batch.key.name}"
    span = tracer.start_span(name, context=Context(), attributes=attributes)
    try:
        limit = event_limit(span, per_span)
        first, rest = batch.summaries[:limit], batch.summaries[limit:]
        for summary in first:
            span.add_event(FEATURE_SUMMARY, summary.to_attributes())
        if rest:
            _add_children(tracer, span, rest, attributes, limit, name, batch.calls)
    finally:
        span.end()
