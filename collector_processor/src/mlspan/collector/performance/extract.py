"""Finds performance summaries and validation scores in trace batches.

A span is a performance span when it carries ``mlspan.performance.task``; only then are
its attributes read, and the summary is rebuilt by the shared checked decoder
(``decode_performance``), which refuses anything malformed before a sketch byte reaches
DataSketches. A span with ``mlspan.search.best_score`` and a model version gives that
version's validation score (the refit metric of the search that produced it). Any
other span with ``mlspan.performance.predicted`` (an instrumented ``predict_proba`` call)
gives the binned probabilities of its predictions (``TracedScores``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlspan.collector.pdata import TraceBatch, plain_attributes, string_attribute
from mlspan.collector.pdata.batch import SERVICE_NAME
from mlspan.semconv import attributes as attr
from mlspan.summaries.performance import MAX_CLASSES_LIMIT, PerformanceSummary
from mlspan.summaries.performance_codec import (
    MAX_TEXT,
    PerformanceDecodeError,
    decode_performance,
    predicted_of,
)
from mlspan.summaries.performance_predicted import PredictedScores

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelKey:
    """Whose performance: service, model name (else class) and version."""

    service: str
    model: str
    version: str


@dataclass(frozen=True)
class WindowRecord:
    """One decoded performance span."""

    key: ModelKey
    start: float
    end: float
    summary: PerformanceSummary
    predictions: int | None
    """``mlspan.outcome.predictions`` (predictions logged in the window), if sent."""
    time: float
    """Span end time, Unix seconds (orders the prediction-count gauge)."""
    operation: str = ""
    """``mlspan.operation.name``: ``labels``, ``evaluate`` or ``predictions``."""


@dataclass(frozen=True)
class ValidationScore:
    """A version's validation score (a search's best mean cross-validated score)."""

    key: ModelKey
    score: float


@dataclass(frozen=True)
class TracedScores:
    """The binned probabilities of one instrumented ``predict_proba`` call."""

    key: ModelKey
    start: float
    end: float
    predicted: PredictedScores


class BadPerformanceSpan(ValueError):
    """A performance span whose identity or window is unusable."""


def extract(
    batch: TraceBatch, max_window_seconds: float, bad: list[str]
) -> Iterator[WindowRecord | ValidationScore | TracedScores]:
    """Every performance summary, validation score and traced probability summary in
    ``batch``; the reason of each refused span is appended to ``bad``."""
    for resource in batch.view.resource_spans:
        service = string_attribute(resource.resource.attributes, SERVICE_NAME) or ""
        for scope in resource.scope_spans:
            for span in scope.spans:
                attributes = span.attributes
                if attr.PERFORMANCE_TASK in attributes:
                    try:
                        yield _window(service, span, batch, max_window_seconds)
                    except (PerformanceDecodeError, BadPerformanceSpan) as exc:
                        bad.append(str(exc)[:200])
                elif attr.PERFORMANCE_PREDICTED in attributes:
                    try:
                        yield _traced(service, span, max_window_seconds)
                    except (PerformanceDecodeError, BadPerformanceSpan) as exc:
                        bad.append(str(exc)[:200])
                elif attr.SEARCH_BEST_SCORE in attributes:
                    score = _validation(service, attributes)
                    if score is not None:
                        yield score


def _key(service: str, attributes: Any) -> ModelKey:
    model = (
        string_attribute(attributes, attr.MODEL_NAME)
        or string_attribute(attributes, attr.MODEL_CLASS)
        or ""
    )
    return ModelKey(service, model, string_attribute(attributes, attr.MODEL_VERSION) or "")


def _window(service: str, span: Any, batch: TraceBatch, max_window_seconds: float) -> WindowRecord:
    plain = plain_attributes(span.attributes)
    summary = decode_performance(plain)
    key = _key(service, span.attributes)
    if not key.model or not key.version:
        raise BadPerformanceSpan("performance span without a model name or version")
    start = _number(plain.get(attr.PERFORMANCE_WINDOW_START), "window start")
    end = _number(plain.get(attr.PERFORMANCE_WINDOW_END), "window end")
    if not 0 < end - start <= max_window_seconds:
        raise BadPerformanceSpan(f"window [{start}, {end}) is empty or too long")
    predictions = plain.get(attr.OUTCOME_PREDICTIONS)
    if predictions is not None and (
        isinstance(predictions, bool) or not isinstance(predictions, int) or predictions < 0
    ):
        raise BadPerformanceSpan(f"{attr.OUTCOME_PREDICTIONS}: not a count: {predictions!r}")
    time = span.end_time_unix_nano / 1e9 if span.end_time_unix_nano else batch.received_at
    operation = string_attribute(span.attributes, attr.OPERATION_NAME) or ""
    return WindowRecord(key, start, end, summary, predictions, time, operation)


def _traced(service: str, span: Any, max_window_seconds: float) -> TracedScores:
    plain = plain_attributes(span.attributes)
    key = _key(service, span.attributes)
    if not key.model or not key.version:
        raise BadPerformanceSpan("predicted probabilities without a model name or version")
    start = _number(plain.get(attr.PERFORMANCE_WINDOW_START), "window start")
    end = _number(plain.get(attr.PERFORMANCE_WINDOW_END), "window end")
    if not 0 < end - start <= max_window_seconds:
        raise BadPerformanceSpan(f"window [{start}, {end}) is empty or too long")
    text = plain.get(attr.PERFORMANCE_PREDICTED)
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise PerformanceDecodeError("predicted probabilities must be a JSON string")
    try:
        labels = json.loads(text)["classes"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise PerformanceDecodeError("predicted probabilities are not a JSON object") from exc
    if not isinstance(labels, dict) or not 2 <= len(labels) <= MAX_CLASSES_LIMIT:
        raise PerformanceDecodeError("predicted probabilities need 2 or more classes")
    return TracedScores(key, start, end, predicted_of(plain, list(labels)))


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadPerformanceSpan(f"{what}: not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < 1e11:
        raise BadPerformanceSpan(f"{what}: out of range: {number}")
    return number


def _validation(service: str, attributes: Any) -> ValidationScore | None:
    key = _key(service, attributes)
    value = attributes[attr.SEARCH_BEST_SCORE]
    which = value.WhichOneof("value")
    score = float(getattr(value, which)) if which in ("double_value", "int_value") else math.nan
    if not key.model or not key.version or not math.isfinite(score):
        return None
    return ValidationScore(key, score)
