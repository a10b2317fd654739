"""The metrics an experiment can compare, and how each is read from a performance summary.

An experiment needs, per arm, a count of outcomes and the sum and sum of squares of one
per-outcome value: the sums that performance summaries merge exactly. Rates are means
of 0/1 values (the sum of squares equals the sum):

* ``accuracy`` (higher is better) and ``error_rate`` (lower is better): correct and
  wrong predictions of a classifier, from its confusion counts;
* ``mae`` (lower is better): a regressor's absolute error, whose sum of squares is the
  summary's sum of squared errors.

Metrics without a per-outcome sum of squares in the summary (RMSE, log loss, Brier
score, F1, ROC AUC) cannot be given a variance, hence no test, and are not offered.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary


class MetricKind(str, enum.Enum):
    """Which fixed-horizon test fits: two proportions, or Welch for means."""

    RATE = "rate"
    MEAN = "mean"


Sums = tuple[int, float, float]
"""Outcomes, sum of the per-outcome values, sum of their squares."""


@dataclass(frozen=True)
class MetricSpec:
    """One comparable metric."""

    name: str
    kind: MetricKind
    task: PerformanceTask
    higher_is_better: bool
    unit: str
    """How differences are shown: ``pts`` (percentage points) for rates, else empty."""
    sums: Callable[[PerformanceSummary], Sums]


def _correct(summary: PerformanceSummary) -> Sums:
    matrix = summary.matrix()
    right = float(np.trace(matrix)) if matrix.size else 0.0
    return int(matrix.sum()), right, right


def _wrong(summary: PerformanceSummary) -> Sums:
    count, right, _ = _correct(summary)
    return count, count - right, count - right


def _absolute_error(summary: PerformanceSummary) -> Sums:
    sums = summary.regression
    if sums is None:
        return 0, 0.0, 0.0
    return sums.count, sums.sum_abs_error, sums.sum_sq_error


METRICS: Final = {
    spec.name: spec
    for spec in (
        MetricSpec("accuracy", MetricKind.RATE, PerformanceTask.CLASSIFIER, True, "pts", _correct),
        MetricSpec("error_rate", MetricKind.RATE, PerformanceTask.CLASSIFIER, False, "pts", _wrong),
        MetricSpec("mae", MetricKind.MEAN, PerformanceTask.REGRESSOR, False, "", _absolute_error),
    )
}
"""Every metric an experiment may name, by name."""


def outcome_sums(spec: MetricSpec, summary: PerformanceSummary) -> Sums | None:
    """The metric's sums over ``summary``; None when the summary is of the other task."""
    if summary.task is not spec.task:
        return None
    return spec.sums(summary)
