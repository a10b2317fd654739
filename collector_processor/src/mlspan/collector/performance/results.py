"""Metrics of merged windows: per window and for a whole model version.

``version_result`` merges every window of a version (exact sums; sketches within their
bound) and computes the headline metrics of ``performance_metrics.metrics``, the
per-class precision/recall/F1/support and ROC AUC, and label coverage: labelled
predictions over the latest count of logged predictions, per window and over the windows
that reported one (``None`` when no window did, as for ``evaluate`` spans). Windows
whose predictions were summarised before their labels (``predicted``) also get
estimated metrics (``estimated``), beside the realised ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlspan.collector.performance.concept_tracking import ConceptStatus, decision_json
from mlspan.collector.performance.estimate import Calibration
from mlspan.collector.performance.estimated import (
    SOURCE_NONE,
    Reference,
    estimate_predicted,
    merged_predicted,
)
from mlspan.collector.performance.extract import ModelKey
from mlspan.collector.performance.state import Window
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries import performance_metrics as pm
from mlspan.summaries.performance import PerformanceSummary


@dataclass(frozen=True)
class WindowResult:
    """The metrics of one prediction window."""

    start: float
    end: float
    count: int
    predictions: int | None
    coverage: float | None
    metrics: dict[str, float]
    predicted: int | None = None
    """Predictions whose probabilities the window's estimate covers (None: none sent)."""
    estimated: dict[str, float] = field(default_factory=dict)
    """Estimated metrics over every prediction of the window (``estimated``)."""


@dataclass(frozen=True)
class VersionResult:
    """The metrics of one model version over all its windows."""

    key: ModelKey
    task: PerformanceTask
    count: int
    predictions: int | None
    coverage: float | None
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    validation_score: float | None
    windows: tuple[WindowResult, ...]
    concept: ConceptStatus | None = None
    """The version's concept-drift detector's latest decision (None before labels)."""
    predicted: int | None = None
    """Predictions with summarised probabilities over all windows (None: none sent)."""
    estimated: dict[str, float] = field(default_factory=dict)
    """Estimated metrics over those predictions."""
    reference: Reference | None = None
    """The calibration the estimates use."""


def coverage(labelled: int, predictions: int | None) -> float | None:
    """Share of logged predictions labelled so far (at most 1), None when unknown."""
    if predictions is None or predictions <= 0:
        return None
    return min(1.0, labelled / predictions)


def merged(windows: Sequence[Window]) -> PerformanceSummary | None:
    """Every window's summary merged (None for no windows)."""
    total: PerformanceSummary | None = None
    for window in windows:
        total = window.summary if total is None else total.merge(window.summary)
    return total


def window_result(window: Window, reference: Reference | None = None) -> WindowResult:
    """The realised metrics of one window and, with its predicted probabilities, the
    estimated ones (calibrated on ``reference``)."""
    predicted = window.summary.predicted
    return WindowResult(
        window.start,
        window.end,
        window.summary.count,
        window.predictions,
        coverage(window.summary.count, window.predictions),
        pm.metrics(window.summary),
        None if predicted is None else predicted.rows,
        estimate_predicted(predicted, reference or _UNCALIBRATED),
    )


_UNCALIBRATED = Reference(SOURCE_NONE, 0, Calibration(), {})


def version_result(
    key: ModelKey,
    windows: Sequence[Window],
    validation_score: float | None,
    reference: Reference | None = None,
) -> VersionResult | None:
    """The metrics of ``key`` over ``windows`` (None when it has none); estimates are
    calibrated on ``reference`` (none: probabilities taken as calibrated)."""
    total = merged(windows)
    if total is None:
        return None
    reported = [w for w in windows if w.predictions is not None]
    predictions = sum(w.predictions or 0 for w in reported) if reported else None
    labelled = sum(w.summary.count for w in reported)
    per_class: dict[str, dict[str, float]] = {}
    if total.task is PerformanceTask.CLASSIFIER:
        per_class = pm.per_class(total)
        auc = pm.roc_auc_per_class(total)
        for label, values in per_class.items():
            values["roc_auc"] = auc.get(label, math.nan)
    predicted = merged_predicted(windows)
    calibration = reference or _UNCALIBRATED
    return VersionResult(
        key,
        total.task,
        total.count,
        predictions,
        coverage(labelled, predictions),
        pm.metrics(total),
        per_class,
        validation_score,
        tuple(window_result(w, calibration) for w in windows),
        predicted=None if predicted is None else predicted.rows,
        estimated=estimate_predicted(predicted, calibration),
        reference=reference if predicted is not None else None,
    )


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def result_json(result: VersionResult, with_windows: bool = True) -> dict[str, Any]:
    """The API's JSON of a version result (NaN metrics as null)."""
    body: dict[str, Any] = {
        "service": result.key.service,
        "model": result.key.model,
        "version": result.key.version,
        "task": result.task.value,
        "count": result.count,
        "predictions": result.predictions,
        "label_coverage": result.coverage,
        "validation_score": _number(result.validation_score),
        "metrics": {name: _number(value) for name, value in result.metrics.items()},
        "per_class": {
            label: {name: _number(v) for name, v in values.items()}
            for label, values in result.per_class.items()
        },
    }
    body["predicted"] = result.predicted
    body["estimated"] = _estimates(result.estimated) if result.predicted is not None else None
    body["reference"] = None if result.reference is None else reference_json(result.reference)
    concept = result.concept
    body["concept_drift"] = (
        None
        if concept is None
        else {
            "latest": decision_json(concept.latest),
            "alarm": None if concept.alarm is None else decision_json(concept.alarm),
            "looks": concept.looks,
            "alarms": concept.alarms,
            "labels_since_alarm": concept.labels_since_alarm,
        }
    )
    if with_windows:
        body["windows"] = [
            {
                "start": w.start,
                "end": w.end,
                "count": w.count,
                "predictions": w.predictions,
                "label_coverage": w.coverage,
                "metrics": {name: _number(value) for name, value in w.metrics.items()},
                "predicted": w.predicted,
                "estimated": _estimates(w.estimated) if w.predicted is not None else None,
            }
            for w in result.windows
        ]
    return body


def _estimates(values: dict[str, float]) -> dict[str, float | None]:
    return {name: _number(value) for name, value in values.items()}


def reference_json(reference: Reference) -> dict[str, Any]:
    """Where a version's estimate calibration came from."""
    return {"source": reference.source, "rows": reference.rows, "until": reference.until}
