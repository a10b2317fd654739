"""Estimated performance per window: the reference calibration's choice and the estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlspan.collector.performance.estimate import Calibration, expected_binary
from mlspan.collector.performance.estimated import (
    SOURCE_EVALUATE,
    SOURCE_NONE,
    SOURCE_WINDOWS,
    estimate_predicted,
    merged_predicted,
    reference_for,
)
from mlspan.collector.performance.state import Window
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_build import classification_summary, predictions_summary


def _binary(rows: int, seed: int, shrink: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn with p(1) = 0.5 + shrink * (p - 0.5): calibrated
    when ``shrink`` is 1, over-confident below."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, rows)
    y = (rng.random(rows) < 0.5 + shrink * (p - 0.5)).astype(int)
    return np.c_[1 - p, p], y


def _labelled(proba: np.ndarray, y: np.ndarray) -> PerformanceSummary:
    return classification_summary(y, proba.argmax(axis=1), proba, [0, 1])


def _window(start: float, summary: PerformanceSummary) -> Window:
    return Window(start, start + 3600, summary, None, 0.0, 1)


def test_evaluate_outcomes_are_the_reference_when_large_enough() -> None:
    proba, y = _binary(2000, 1)
    windows = [_window(0, _labelled(*_binary(3000, 2)))]
    reference = reference_for(_labelled(proba, y), windows, 1000)
    assert (reference.source, reference.rows, reference.until) == (SOURCE_EVALUATE, 2000, None)
    small = reference_for(_labelled(proba[:500], y[:500]), windows, 1000)
    assert (small.source, small.rows, small.until) == (SOURCE_WINDOWS, 3000, 0)


def test_first_labelled_windows_until_enough_rows() -> None:
    parts = [_binary(400, seed) for seed in range(4)]
    windows = [
        _window(3600 * i, predictions_summary(proba, [0, 1]).merge(_labelled(proba, y)))
        for i, (proba, y) in enumerate(parts)
    ]
    reference = reference_for(None, windows, 1000)
    assert (reference.source, reference.rows, reference.until) == (SOURCE_WINDOWS, 1200, 7200)
    unlabelled = [_window(0, predictions_summary(parts[0][0], [0, 1]))]
    none = reference_for(None, unlabelled, 1000)
    assert (none.source, none.rows) == (SOURCE_NONE, 0)
    assert none.top == Calibration()


def test_binary_estimate_equals_the_expected_matrix_of_the_raw_probabilities() -> None:
    proba, _ = _binary(5000, 3)
    estimate = estimate_predicted(
        predictions_summary(proba, [0, 1]).predicted, reference_for(None, [], 1)
    )
    raw = expected_binary(proba[:, 1]).metrics()
    assert estimate["accuracy"] == pytest.approx(raw["accuracy"])
    assert estimate["accuracy"] == pytest.approx(float(proba.max(axis=1).mean()))
    assert estimate["f1_macro"] == pytest.approx(raw["f1"])
    assert estimate["precision_macro"] == pytest.approx(raw["precision"])
    assert estimate["recall_macro"] == pytest.approx(raw["recall"])


def test_calibration_from_the_reference_corrects_a_miscalibrated_model() -> None:
    # over-confident: the true probability is half as far from 0.5 as the predicted one
    ref_proba, ref_y = _binary(20_000, 4, shrink=0.5)
    proba, y = _binary(20_000, 5, shrink=0.5)
    realised = float((proba.argmax(axis=1) == y).mean())
    raw = estimate_predicted(
        predictions_summary(proba, [0, 1]).predicted, reference_for(None, [], 1)
    )
    calibrated = estimate_predicted(
        predictions_summary(proba, [0, 1]).predicted,
        reference_for(_labelled(ref_proba, ref_y), [], 1000),
    )
    assert abs(raw["accuracy"] - realised) > 0.03
    assert abs(calibrated["accuracy"] - realised) < 0.015


def test_multiclass_estimate_is_the_mean_top_probability() -> None:
    proba = np.random.default_rng(6).dirichlet(np.ones(3), size=3000)
    estimate = estimate_predicted(
        predictions_summary(proba, ["a", "b", "c"]).predicted, reference_for(None, [], 1)
    )
    assert set(estimate) == {"accuracy"}
    assert estimate["accuracy"] == pytest.approx(float(proba.max(axis=1).mean()))


def test_nothing_to_estimate_without_predicted_probabilities() -> None:
    proba, y = _binary(100, 7)
    assert estimate_predicted(None, reference_for(None, [], 1)) == {}
    assert estimate_predicted(_labelled(proba, y).predicted, reference_for(None, [], 1)) == {}
    assert merged_predicted([_window(0, _labelled(proba, y))]) is None
    merged = merged_predicted(
        [
            _window(0, predictions_summary(proba, [0, 1])),
            _window(3600, predictions_summary(proba, [0, 1])),
        ]
    )
    assert merged is not None and merged.rows == 200
    assert not math.isnan(estimate_predicted(merged, reference_for(None, [], 1))["accuracy"])
