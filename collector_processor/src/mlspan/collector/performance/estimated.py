"""Estimated performance of a model version's windows, from their predicted probabilities.

Every window whose summary carries ``predicted`` (the binned probabilities of all its
predictions, sent by the application before any label arrives) gets an estimate by
``estimate``'s confidence-based method, calibrated per version on a labelled
**reference**:

1. the version's ``evaluate`` outcomes (predictions and labels at hand, typically the
   validation or holdout set scored right after training), when they hold at least
   ``min_rows`` labelled predictions with probabilities;
2. else its earliest labelled windows by prediction time, as many as it takes to reach
   ``min_rows`` such predictions (the first production labels define "normal");
3. else no reference: the probabilities are taken as calibrated.

The probabilities come from the prediction log's ``predictions`` spans or, for a
version that sends none, from its instrumented ``predict_proba`` calls (``with_traced``:
windows by the time of the call).

The estimate covers every prediction of the window; the realised metrics cover its
labelled ones. For a binary classifier the estimate has ``accuracy``,
``precision_macro``, ``recall_macro`` and ``f1_macro`` (the expected confusion matrix
from the bins of p(positive), threshold 0.5); with more classes, ``accuracy`` (from the
top-label bins). A gap between estimated and realised accuracy once labels arrive is a
concept-drift signal: the probabilities did not change, the world did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from mlspan.collector.performance.estimate import (
    Calibration,
    expected_accuracy_from_top,
    expected_binary_from_bins,
)
from mlspan.collector.performance.state import Window
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import Bin, PerformanceSummary, ProbabilitySums
from mlspan.summaries.performance_predicted import Pair, PredictedScores

DEFAULT_REFERENCE_ROWS: Final = 1000
"""Labelled predictions with probabilities a reference needs (``reference_rows``)."""

SOURCE_EVALUATE: Final = "evaluate"
SOURCE_WINDOWS: Final = "labelled windows"
SOURCE_NONE: Final = "none"


@dataclass(frozen=True)
class Reference:
    """The calibration of one model version's estimates and where it came from."""

    source: str
    """``evaluate``, ``labelled windows`` or ``none``."""
    rows: int
    """Labelled predictions with probabilities behind it."""
    top: Calibration
    """Correction of the top-label confidence bins."""
    classes: dict[str, Calibration]
    """Correction of each label's bins of p(label)."""
    until: float | None = None
    """For ``labelled windows``: the start of the last window taken."""


def _calibrated(sums: ProbabilitySums, source: str, until: float | None = None) -> Reference:
    return Reference(
        source,
        sums.rows,
        Calibration.from_bins(sums.top),
        {label: Calibration.from_bins(bins) for label, bins in sums.classes.items()},
        until,
    )


def reference_for(
    evaluated: PerformanceSummary | None, windows: Sequence[Window], min_rows: int
) -> Reference:
    """The version's reference (see the module docstring for the order of choice)."""
    outcomes = None if evaluated is None else evaluated.probability
    if outcomes is not None and outcomes.rows >= min_rows:
        return _calibrated(outcomes, SOURCE_EVALUATE)
    total: ProbabilitySums | None = None
    for window in windows:
        sums = window.summary.probability
        if sums is None or not sums.rows:
            continue
        total = sums if total is None else total.merge(sums)
        if total.rows >= min_rows:
            return _calibrated(total, SOURCE_WINDOWS, window.start)
    return Reference(SOURCE_NONE, 0, Calibration(), {})


def _bins(pairs: Sequence[Pair]) -> list[Bin]:
    return [(rows, total, 0) for rows, total in pairs]


def estimate_predicted(predicted: PredictedScores | None, reference: Reference) -> dict[str, float]:
    """The estimated metrics of the predictions ``predicted`` summarises ({} for none)."""
    if predicted is None or predicted.rows <= 0:
        return {}
    labels = sorted(predicted.classes)
    if len(labels) == 2:
        pair = (labels[0], labels[1])
        calibration = reference.classes.get(labels[1])
        matrix = expected_binary_from_bins(_bins(predicted.classes[labels[1]]), pair, calibration)
        found = matrix.metrics()
        return {
            "accuracy": found["accuracy"],
            "precision_macro": found["precision"],
            "recall_macro": found["recall"],
            "f1_macro": found["f1"],
        }
    return {"accuracy": expected_accuracy_from_top(_bins(predicted.top), reference.top)}


def merged_predicted(windows: Sequence[Window]) -> PredictedScores | None:
    """Every window's predicted-probability summary merged (None when none has one)."""
    total: PredictedScores | None = None
    for window in windows:
        predicted = window.summary.predicted
        if predicted is not None:
            total = predicted if total is None else total.merge(predicted)
    return total


def with_traced(
    windows: Sequence[Window], traced: Sequence[tuple[float, float, PredictedScores]]
) -> list[Window]:
    """``windows`` with the binned probabilities of instrumented ``predict_proba`` calls
    as their ``predicted`` (windows only those calls saw are added, with no label); for
    versions whose windows hold no ``predictions`` span's."""
    by_start = {window.start: window for window in windows}
    for start, end, scores in traced:
        held = by_start.get(start)
        if held is None:
            labels = tuple(sorted(scores.classes))
            empty = tuple((0,) * len(labels) for _ in labels)
            summary = PerformanceSummary(
                PerformanceTask.CLASSIFIER, 0, labels=labels, confusion=empty, predicted=scores
            )
            by_start[start] = Window(start, end, summary, None, 0.0, 0)
        elif held.summary.task is PerformanceTask.CLASSIFIER:
            by_start[start] = replace(held, summary=replace(held.summary, predicted=scores))
    return [by_start[start] for start in sorted(by_start)]


def finite(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics that are finite numbers."""
    return {name: value for name, value in metrics.items() if math.isfinite(value)}
