"""Metrics from merged performance summaries equal scikit-learn's on the raw rows."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from mlspan.summaries import performance_metrics as pm
from mlspan.summaries.performance import OTHER_LABEL, PerformanceSummary
from mlspan.summaries.performance_build import classification_summary, regression_summary


def merged(parts: list[PerformanceSummary]) -> PerformanceSummary:
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total


def classifier_data(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), y] += 1.2
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


@pytest.mark.parametrize("windows", [1, 10, 100])
@pytest.mark.parametrize("classes", [2, 4])
def test_classifier_metrics_match_sklearn(windows: int, classes: int) -> None:
    y, pred, proba = classifier_data(30_000, classes, seed=windows + classes)
    names = list(range(classes))
    parts = [
        classification_summary(y[i], pred[i], proba[i], classes=names)
        for i in np.array_split(np.arange(y.size), windows)
    ]
    summary = merged(parts)
    assert summary.count == y.size
    assert pm.accuracy(summary) == sk.accuracy_score(y, pred)
    precision, recall, f1, support = sk.precision_recall_fscore_support(y, pred)
    for i, label in enumerate(str(c) for c in names):
        got = pm.per_class(summary)[label]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(
            (precision[i], recall[i], f1[i]), abs=1e-15
        )
        assert got["support"] == support[i]
    averaged = sk.precision_recall_fscore_support(y, pred, average="macro")
    assert tuple(pm.macro(summary).values()) == pytest.approx(averaged[:3], abs=1e-15)
    assert pm.log_loss(summary) == pytest.approx(sk.log_loss(y, proba), rel=1e-12)
    expected_brier = (
        sk.brier_score_loss(y, proba[:, 1]) if classes == 2 else sk.brier_score_loss(y, proba)
    )
    assert pm.brier(summary) == pytest.approx(expected_brier, rel=1e-12)
    if classes == 2:
        expected_auc = sk.roc_auc_score(y, proba[:, 1])
    else:
        expected_auc = sk.roc_auc_score(y, proba, multi_class="ovr")
    assert abs(pm.roc_auc(summary) - expected_auc) < 0.005
    assert pm.calibration_error(summary) == pytest.approx(top_label_ece(y, proba), abs=1e-12)


def top_label_ece(y: np.ndarray, proba: np.ndarray) -> float:
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    which = np.searchsorted(np.linspace(0, 1, 11)[1:-1], confidence, side="left")
    total = 0.0
    for b in range(10):
        inside = which == b
        total += abs(confidence[inside].sum() - correct[inside].sum())
    return total / y.size


def test_small_samples_give_the_exact_auc() -> None:
    y, _, proba = classifier_data(150, 2, seed=3)
    summary = classification_summary(y, proba.argmax(axis=1), proba, classes=[0, 1])
    assert pm.roc_auc(summary) == pytest.approx(sk.roc_auc_score(y, proba[:, 1]), abs=1e-12)


def test_per_class_calibration_bins_match_calibration_curve() -> None:
    from sklearn.calibration import calibration_curve

    y, pred, proba = classifier_data(5000, 2, seed=9)
    summary = classification_summary(y, pred, proba, classes=[0, 1])
    assert summary.probability is not None
    bins = [b for b in summary.probability.classes["1"] if b[0]]
    prob_true, prob_pred = calibration_curve(y, proba[:, 1], n_bins=10)
    assert [h / n for n, _, h in bins] == pytest.approx(prob_true.tolist(), abs=1e-12)
    assert [s / n for n, s, _ in bins] == pytest.approx(prob_pred.tolist(), abs=1e-12)


@pytest.mark.parametrize("windows", [1, 10, 100])
def test_regressor_metrics_match_sklearn(windows: int) -> None:
    rng = np.random.default_rng(windows)
    y = rng.normal(50.0, 10.0, 20_000)
    pred = y + rng.normal(0.5, 3.0, y.size)
    parts = [regression_summary(y[i], pred[i]) for i in np.array_split(np.arange(y.size), windows)]
    summary = merged(parts)
    assert pm.mae(summary) == pytest.approx(sk.mean_absolute_error(y, pred), rel=1e-12)
    assert pm.rmse(summary) == pytest.approx(sk.root_mean_squared_error(y, pred), rel=1e-12)
    assert pm.r2(summary) == pytest.approx(sk.r2_score(y, pred), rel=1e-10)


labels = st.sampled_from(["a", "b", "c", "d", "e"])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(labels, labels), min_size=1, max_size=200),
    cuts=st.lists(st.integers(0, 200), max_size=9),
)
def test_counts_are_exact_however_the_rows_are_split(
    rows: list[tuple[str, str]], cuts: list[int]
) -> None:
    y = np.array([t for t, _ in rows])
    pred = np.array([p for _, p in rows])
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    parts = [
        classification_summary(y[a:b], pred[a:b]) for a, b in itertools.pairwise(bounds) if b > a
    ]
    summary = merged(parts)
    assert pm.accuracy(summary) == sk.accuracy_score(y, pred)
    averaged = sk.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    assert tuple(pm.macro(summary).values()) == pytest.approx(averaged[:3], abs=1e-15)
    assert summary.labels == tuple(sorted(set(y) | set(pred)))


def test_rare_classes_fold_into_other() -> None:
    y = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 2 + ["d"])
    summary = classification_summary(y, y, max_classes=3)
    assert summary.labels == ("a", "b", OTHER_LABEL)
    assert summary.matrix().tolist() == [[50, 0, 0], [0, 30, 0], [0, 0, 3]]
    wider = classification_summary(np.array(["e", "f"]), np.array(["e", "f"]), max_classes=3)
    both = summary.merge(wider)
    assert both.labels == ("a", "b", OTHER_LABEL) and both.count == 85


def test_metrics_of_nothing_are_nan() -> None:
    empty = classification_summary(np.array([]), np.array([]))
    assert math.isnan(pm.accuracy(empty)) and math.isnan(pm.roc_auc(empty))
    assert math.isnan(pm.r2(regression_summary([1.0, 1.0], [1.0, 2.0])))
