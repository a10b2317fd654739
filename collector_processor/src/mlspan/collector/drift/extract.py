"""Finds feature-summary events in trace batches and says which side each belongs to.

Most spans carry no events, so that is checked first, then that one of them is a
feature summary (named ``mlspan.feature.summary``), before any span attribute is read;
only those events are decoded, a batch at a time by the checked ``decode_summaries``
(``decode_summary``'s checks and answers): a bad summary is counted and logged
(rate-limited), never raised, and the span's other summaries are kept. A
search's candidate spans (``mlspan.call.role`` ``candidate``) feed no drift series, even
if they carry summaries: they see folds of the search's own data, not a model's inputs.

A span with ``mlspan.drift.window.close`` set to true (the end of a scoring job) yields a
``WindowClose`` after its own summaries, in the order the spans came, so the engine
closes the job's windows between the job's summaries and whatever follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from mlspan.collector.drift.config import BaselineConfig
from mlspan.collector.drift.rejections import RejectionLog
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.summary_batch import decode_summaries, event_attributes
from mlspan.collector.drift.summary_check import BadSummary
from mlspan.collector.pdata import TraceBatch, string_attribute
from mlspan.collector.pdata.batch import SERVICE_NAME
from mlspan.semconv import attributes as attr
from mlspan.semconv.events import FEATURE_SUMMARY
from mlspan.semconv.values import CallRole, DatasetRole, OperationName
from mlspan.summaries import FeatureSummary

__all__ = [
    "BASELINE",
    "CURRENT",
    "FIT_OPERATIONS",
    "INFERENCE_OPERATIONS",
    "ExtractCounts",
    "SummaryRecord",
    "WindowClose",
    "event_attributes",  # its home is summary_batch; read from here by other components
    "extract",
    "model_name",
    "side_of",
]

FIT_OPERATIONS: Final = frozenset(
    {OperationName.FIT.value, OperationName.FIT_TRANSFORM.value, OperationName.PARTIAL_FIT.value}
)
INFERENCE_OPERATIONS: Final = frozenset(
    {
        OperationName.PREDICT.value,
        OperationName.PREDICT_PROBA.value,
        OperationName.PREDICT_LOG_PROBA.value,
        OperationName.DECISION_FUNCTION.value,
        OperationName.TRANSFORM.value,
        OperationName.SUMMARY.value,
    }
)

_CANDIDATE: Final = CallRole.CANDIDATE.value

BASELINE: Final = "baseline"
CURRENT: Final = "current"


@dataclass(frozen=True)
class SummaryRecord:
    """One decoded summary, the model it belongs to and its side."""

    key: ModelKey
    side: str
    """``baseline`` or ``current``."""
    summary: FeatureSummary
    dataset_digest: str
    operation: str
    time: float
    """Span end time, unix seconds."""


@dataclass(frozen=True)
class WindowClose:
    """A span asked to close the open windows of ``service`` (of ``model`` only, unless
    it is empty) now."""

    service: str
    model: str


@dataclass
class ExtractCounts:
    """What one extraction pass saw."""

    decoded: int = 0
    bad: int = 0
    """Summaries rejected by ``decode_summary``."""
    bad_spans: int = 0
    """Spans with at least one rejected summary (their other summaries are kept)."""
    log: RejectionLog = field(default_factory=RejectionLog, repr=False)


def side_of(operation: str, role: str, digest: str, time: float, config: BaselineConfig) -> str:
    """``baseline``, ``current`` or "" (ignored) for a span's summaries."""
    if config.mode == "digest":
        if digest and digest == config.digest:
            return BASELINE
    elif config.mode == "train":
        if operation in FIT_OPERATIONS:
            return BASELINE if role in ("", DatasetRole.TRAIN.value) else ""
        # Summaries of a wide training frame continue on child spans of operation
        # ``summary`` that carry the fit's dataset role.
        if operation == OperationName.SUMMARY.value and role == DatasetRole.TRAIN.value:
            return BASELINE
    inference = operation in INFERENCE_OPERATIONS and role in ("", DatasetRole.INFERENCE.value)
    if not inference:
        return ""
    if config.mode == "window" and config.start <= time < config.end:
        return BASELINE
    return CURRENT


def extract(
    batch: TraceBatch, config: BaselineConfig, counts: ExtractCounts
) -> Iterator[SummaryRecord | WindowClose]:
    """Every feature summary in ``batch`` that belongs to a baseline or a current window,
    and every request to close windows, in span order.

    Walks the parsed view directly: a span without events costs one field read and one
    key look-up (the close request), and other span attributes are read only when one of
    its events is a feature summary. The summaries of the whole batch are then decoded
    together (``decode_summaries``: every check of ``decode_summary``, the sketches and
    numbers of all of them checked in one vectorised pass).
    """
    found: list[_SpanSummaries | WindowClose] = []
    rows: list[Any] = []
    for resource in batch.view.resource_spans:
        service: str | None = None
        for scope in resource.scope_spans:
            for span in scope.spans:
                events = span.events
                if events and any(e.name == FEATURE_SUMMARY for e in events):
                    if service is None:
                        service = _service(resource)
                    summaries = _span_summaries(batch, service, span, config, rows)
                    if summaries is not None:
                        found.append(summaries)
                attributes = span.attributes
                close = attr.DRIFT_WINDOW_CLOSE
                if close in attributes and attributes[close].bool_value:
                    if service is None:
                        service = _service(resource)
                    found.append(WindowClose(service, model_name(attributes)))
    if not found:
        return
    decoded = decode_summaries(rows) if rows else []
    for item in found:
        if isinstance(item, WindowClose):
            yield item
            continue
        rejected = False
        for summary in decoded[item.first : item.end]:
            if isinstance(summary, BadSummary):
                counts.bad += 1
                rejected = True
                counts.log.record(summary.reason, item.span_id.hex())
                continue
            counts.decoded += 1
            yield SummaryRecord(
                item.key, item.side, summary, item.digest, item.operation, item.time
            )
        if rejected:
            counts.bad_spans += 1


def _service(resource: Any) -> str:
    return string_attribute(resource.resource.attributes, SERVICE_NAME) or ""


def model_name(attributes: Any) -> str:
    """The name drift series are kept under: ``mlspan.model.name`` (the user's name for
    the model, else the estimator's class name), else ``mlspan.model.class``."""
    return (
        string_attribute(attributes, attr.MODEL_NAME)
        or string_attribute(attributes, attr.MODEL_CLASS)
        or ""
    )


@dataclass(frozen=True)
class _SpanSummaries:
    """The summary events of one span, by position in the batch's list of rows."""

    key: ModelKey
    side: str
    digest: str
    operation: str
    time: float
    span_id: bytes
    first: int
    end: int


def _span_summaries(
    batch: TraceBatch,
    service: str,
    span: Any,
    config: BaselineConfig,
    rows: list[Any],
) -> _SpanSummaries | None:
    """Append the attributes (the parsed maps) of the span's summary events to ``rows``;
    where they sit,
    with what the span says about them (None when they feed no series)."""
    attributes = span.attributes
    if string_attribute(attributes, attr.CALL_ROLE) == _CANDIDATE:
        return None
    operation = string_attribute(attributes, attr.OPERATION_NAME) or ""
    role = string_attribute(attributes, attr.DATASET_ROLE) or ""
    digest = string_attribute(attributes, attr.DATASET_DIGEST) or ""
    time = span.end_time_unix_nano / 1e9 if span.end_time_unix_nano else batch.received_at
    side = side_of(operation, role, digest, time, config)
    if not side:
        return None
    key = ModelKey(
        service, model_name(attributes), string_attribute(attributes, attr.MODEL_VERSION) or ""
    )
    first = len(rows)
    for event in span.events:
        if event.name == FEATURE_SUMMARY:
            rows.append(event.attributes)
    return _SpanSummaries(key, side, digest, operation, time, bytes(span.span_id), first, len(rows))
