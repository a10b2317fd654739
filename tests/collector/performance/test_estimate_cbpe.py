"""Confidence-based performance estimates from probability summaries match the realised
performance of calibrated scikit-learn models on data without concept drift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.naive_bayes import GaussianNB

from mlspan.collector.performance.estimate import (
    Calibration,
    EstimatedPerformance,
    expected_accuracy_from_top,
    expected_binary,
    expected_binary_from_bins,
    weighted_scores,
)
from mlspan.summaries.kll_format import SketchFormatError
from mlspan.summaries.performance import sketch_of
from mlspan.summaries.performance_build import classification_summary

CHUNK = 10_000


def split_data(classes: int) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        70_000, 20, n_informative=6, n_classes=classes, flip_y=0.05, random_state=classes
    )


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(max_iter=1000),
        CalibratedClassifierCV(GaussianNB(), cv=3),
        GaussianNB(),  # miscalibrated: corrected by the reference calibration
    ],
    ids=["logistic", "calibrated-nb", "nb-with-reference-calibration"],
)
def test_binary_estimate_within_002_of_realised(model: object) -> None:
    x, y = split_data(2)
    model.fit(x[:20_000], y[:20_000])  # type: ignore[attr-defined]
    classes = model.classes_  # type: ignore[attr-defined]
    ref_x, ref_y = x[20_000:30_000], y[20_000:30_000]
    reference = classification_summary(
        ref_y,
        model.predict(ref_x),
        model.predict_proba(ref_x),
        classes,  # type: ignore[attr-defined]
    )
    assert reference.probability is not None
    calibration = Calibration.from_bins(reference.probability.classes["1"])
    for start in range(30_000, 70_000, CHUNK):
        cx, cy = x[start : start + CHUNK], y[start : start + CHUNK]
        proba = model.predict_proba(cx)  # type: ignore[attr-defined]
        pred = model.predict(cx)  # type: ignore[attr-defined]
        summary = classification_summary(cy, pred, proba, classes)
        assert summary.probability is not None
        from_bins = expected_binary_from_bins(
            summary.probability.classes["1"], ("0", "1"), calibration
        )
        values, weights = weighted_scores(sketch_of(proba[:, 1], 200))
        from_sketch = expected_binary(values, weights, calibration=calibration)
        realised = accuracy_score(cy, pred)
        for estimate in (from_bins, from_sketch):
            assert estimate.count == pytest.approx(CHUNK)
            assert abs(estimate.accuracy() - realised) <= 0.02
            metrics = estimate.metrics()
            assert abs(metrics["precision_positive"] - precision_score(cy, pred)) <= 0.03
            assert abs(metrics["recall_positive"] - recall_score(cy, pred)) <= 0.03
            assert abs(metrics["f1_positive"] - f1_score(cy, pred)) <= 0.03


def test_miscalibrated_model_is_misestimated_without_reference_calibration() -> None:
    x, y = split_data(2)
    model = GaussianNB().fit(x[:20_000], y[:20_000])
    proba = model.predict_proba(x[30_000:40_000])
    realised = accuracy_score(y[30_000:40_000], model.predict(x[30_000:40_000]))
    # the calibration assumption: naive Bayes probabilities are not, and the estimate misses
    assert abs(expected_binary(proba[:, 1]).accuracy() - realised) > 0.02


def test_multiclass_accuracy_from_top_label_bins() -> None:
    x, y = split_data(4)
    model = LogisticRegression(max_iter=1000).fit(x[:20_000], y[:20_000])
    ref = classification_summary(
        y[20_000:30_000],
        model.predict(x[20_000:30_000]),
        model.predict_proba(x[20_000:30_000]),
        model.classes_,
    )
    assert ref.probability is not None
    calibration = Calibration.from_bins(ref.probability.top)
    for start in range(30_000, 70_000, CHUNK):
        cx, cy = x[start : start + CHUNK], y[start : start + CHUNK]
        pred = model.predict(cx)
        summary = classification_summary(cy, pred, model.predict_proba(cx), model.classes_)
        assert summary.probability is not None
        estimate = expected_accuracy_from_top(summary.probability.top, calibration)
        assert abs(estimate - accuracy_score(cy, pred)) <= 0.02


def test_expected_matrix_by_hand() -> None:
    estimate = expected_binary([0.9, 0.2, 0.6], labels=("no", "yes"))
    assert np.allclose(estimate.matrix, ((0.8, 0.5), (0.2, 1.5)))
    assert estimate.accuracy() == pytest.approx(2.3 / 3)
    precision, recall, f1 = estimate.per_class()["yes"]
    assert precision == pytest.approx(1.5 / 2.0)
    assert recall == pytest.approx(1.5 / 1.7)
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall))


def test_empty_estimate_is_nan() -> None:
    assert math.isnan(EstimatedPerformance(("0", "1"), ((0.0, 0.0), (0.0, 0.0))).accuracy())
    assert math.isnan(expected_accuracy_from_top([(0, 0.0, 0)] * 10))


def test_calibration_round_trip_and_checks() -> None:
    calibration = Calibration.from_bins([(100, 50.0, 40)] * 10)
    assert calibration.shifts == pytest.approx((-0.1,) * 10)
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    assert calibration.apply([0.05, 0.5, 1.0]) == pytest.approx([0.0, 0.4, 0.9])
    with pytest.raises(ValueError):
        Calibration.from_dict({"shifts": [2.0] * 10})
    with pytest.raises(ValueError):
        Calibration.from_bins([(1, 0.5, 1)])


def test_weighted_scores_rejects_bytes_that_are_not_a_sketch() -> None:
    with pytest.raises(SketchFormatError):
        weighted_scores(b"\x05\x01\x0f\x00" * 4)
