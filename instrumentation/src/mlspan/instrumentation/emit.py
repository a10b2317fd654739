"""Putting feature summaries on spans without losing any to the SDK's or a receiver's limits.

The OpenTelemetry SDK keeps at most 128 events per span by default and silently drops
the rest; an OTLP receiver refuses a whole request above its size limit. Summaries ride
on the operation span itself while they fit both its event limit and its byte budget
(``max_span_bytes``, 1 MiB by default: the span's own attributes, shortened first if
they alone take more than half of it, plus every event). Otherwise they go to child
spans of operation ``summary`` (``mlspan.summary.calls`` = 1) that carry the same model
and dataset attributes, packed up to the event limit and the byte budget each, so
1,000 columns give 1,000 summary events with any provider and no span exceeds the
budget. A single summary larger than a whole child span is shrunk to fit
(``span_budget.summary_event``). Sizes are upper bounds of the OTLP encoding
(``otlp_size``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.online import OnlineBatch
from mlspan.instrumentation.span_budget import (
    DEFAULT_MAX_SPAN_BYTES,
    SPAN_OVERHEAD,
    bound_attributes,
    child_room,
    summary_event,
)
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
from mlspan.summaries.codec import AttributeValue as SummaryValue

_Event = tuple[dict[str, SummaryValue], int]
"""A summary event's attributes and the upper bound of its encoded size."""


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
    max_span_bytes: int = DEFAULT_MAX_SPAN_BYTES,
) -> None:
    """Attach one ``mlspan.feature.summary`` event per summary to ``span`` or its children.

    All of them go to ``span`` when they fit its event limit and byte budget, else all
    to child spans. ``context_attributes`` (model and dataset identity) are copied onto
    each child span so a consumer reading only the child still knows whose summaries
    they are.
    """
    limit = event_limit(span, per_span)
    own = bound_attributes(span, max_span_bytes // 2)
    attributes = _child_attributes(context_attributes, calls)
    events = _events(summaries, child_room(max_span_bytes, attributes))
    room = max_span_bytes - SPAN_OVERHEAD - own
    if len(events) <= limit and sum(size for _, size in events) <= room:
        for event, _ in events:
            span.add_event(FEATURE_SUMMARY, event)
        return
    _add_children(tracer, span, events, attributes, limit, max_span_bytes, span_name)


def _child_attributes(
    context_attributes: Mapping[str, AttributeValue], calls: int
) -> dict[str, AttributeValue]:
    attributes = dict(context_attributes)
    attributes[OPERATION_NAME] = OperationName.SUMMARY.value
    attributes[SUMMARY_CALLS] = calls
    return attributes


def _events(summaries: Sequence[FeatureSummary], limit: int) -> list[_Event]:
    return [summary_event(summary, limit) for summary in summaries]


def _add_children(
    tracer: trace.Tracer,
    span: trace.Span,
    events: Sequence[_Event],
    attributes: dict[str, AttributeValue],
    limit: int,
    max_span_bytes: int,
    span_name: str,
) -> None:
    """Child spans of ``span`` holding ``events``, each within ``limit`` events and the
    byte budget."""
    parent = trace.set_span_in_context(span)
    room = child_room(max_span_bytes, attributes)
    start = 0
    while start < len(events):
        end, used = start, 0
        while end < len(events) and end - start < limit:
            size = events[end][1]
            if end > start and used + size > room:
                break
            used += size
            end += 1
        child = tracer.start_span(span_name, context=parent, attributes=attributes)
        for event, _ in events[start:end]:
            child.add_event(FEATURE_SUMMARY, event)
        child.end()
        start = end


def emit_online_batch(
    tracer: trace.Tracer,
    batch: OnlineBatch,
    per_span: int,
    max_span_bytes: int = DEFAULT_MAX_SPAN_BYTES,
) -> None:
    """Record accumulated online summaries as one root span of operation ``summary``;
    the summaries that do not fit its event limit or byte budget go to child spans."""
    attributes: dict[str, AttributeValue] = dict(batch.key.attributes)
    attributes[OPERATION_NAME] = OperationName.SUMMARY.value
    attributes[SUMMARY_CALLS] = batch.calls
    attributes[DATASET_ROWS] = batch.rows
    attributes[DATASET_ROLE] = DatasetRole.INFERENCE.value
    name = f"summary {batch.key.name}"
    span = tracer.start_span(name, context=Context(), attributes=attributes)
    try:
        limit = event_limit(span, per_span)
        room = max_span_bytes - SPAN_OVERHEAD - bound_attributes(span, max_span_bytes // 2)
        events = _events(batch.summaries, child_room(max_span_bytes, attributes))
        first, used = 0, 0
        while first < min(limit, len(events)) and used + events[first][1] <= room:
            used += events[first][1]
            first += 1
        for event, _ in events[:first]:
            span.add_event(FEATURE_SUMMARY, event)
        if first < len(events):
            _add_children(tracer, span, events[first:], attributes, limit, max_span_bytes, name)
    finally:
        span.end()
