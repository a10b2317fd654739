"""Predicted-probability summaries: bins of every prediction, exact merges, checked decode."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlspan.semconv import PERFORMANCE_PREDICTED
from mlspan.summaries.performance_build import classification_summary, predictions_summary
from mlspan.summaries.performance_codec import (
    PerformanceDecodeError,
    decode_performance,
    performance_attributes,
)
from mlspan.summaries.performance_predicted import PREDICTED_BINS, predicted_scores


def _proba(rows: int, classes: int, seed: int = 0) -> np.ndarray:
    raw = np.random.default_rng(seed).dirichlet(np.ones(classes), size=rows)
    return np.asarray(raw, dtype=np.float64)


def test_bins_hold_rows_and_sums_per_equal_width_bin() -> None:
    proba = _proba(5000, 3)
    scores = predicted_scores(proba, ["a", "b", "c"])
    assert scores.rows == 5000
    edges = np.linspace(0, 1, PREDICTED_BINS + 1)
    for i, label in enumerate("abc"):
        column = proba[:, i]
        for b, (rows, total) in enumerate(scores.classes[label]):
            # (lo, hi]: a probability on an edge is in the lower bin; the first bin holds 0
            chosen = (column > edges[b]) & (column <= edges[b + 1])
            if b == 0:
                chosen |= column == 0.0
            assert rows == int(chosen.sum())
            assert total == pytest.approx(float(column[chosen].sum()))
    top = proba.max(axis=1)
    assert sum(r for r, _ in scores.top) == 5000
    assert sum(s for _, s in scores.top) == pytest.approx(float(top.sum()))


def test_half_is_the_lower_bin_as_argmax_predicts_the_first_class() -> None:
    scores = predicted_scores(np.array([[0.5, 0.5]]), [0, 1])
    assert scores.classes["1"][4] == (1, 0.5)  # bin (0.4, 0.5]: predicted negative


def test_split_summaries_merge_to_the_whole() -> None:
    proba = _proba(3000, 2, seed=1)
    whole = predictions_summary(proba, [0, 1])
    parts = [predictions_summary(proba[i::7], [0, 1]) for i in range(7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.count == 0 and merged.labels == ("0", "1")
    assert merged.predicted is not None and whole.predicted is not None
    assert merged.predicted.rows == 3000
    for label in ("0", "1"):
        pairs = zip(merged.predicted.classes[label], whole.predicted.classes[label], strict=True)
        for mine, theirs in pairs:
            assert mine[0] == theirs[0] and mine[1] == pytest.approx(theirs[1])


def test_predictions_merge_with_labelled_summaries_of_the_window() -> None:
    proba = _proba(400, 2, seed=2)
    y = (proba[:, 1] > 0.5).astype(int)
    labelled = classification_summary(y[:100], y[:100], proba[:100], [0, 1])
    merged = predictions_summary(proba, [0, 1]).merge(labelled)
    assert merged.count == 100
    assert merged.probability is not None and merged.probability.rows == 100
    assert merged.predicted is not None and merged.predicted.rows == 400
    assert labelled.merge(predictions_summary(proba, [0, 1])).predicted == merged.predicted


def test_round_trip_through_span_attributes() -> None:
    summary = predictions_summary(_proba(1000, 4, seed=3), ["w", "x", "y", "z"])
    attributes = performance_attributes(summary)
    assert PERFORMANCE_PREDICTED in attributes
    decoded = decode_performance(attributes)
    assert decoded.predicted is not None and summary.predicted is not None
    assert decoded.predicted.rows == 1000
    assert dict(decoded.predicted.classes) == dict(summary.predicted.classes)
    assert decoded.predicted.top == summary.predicted.top
    assert isinstance(attributes[PERFORMANCE_PREDICTED], str)


def test_non_finite_rows_are_left_out() -> None:
    proba = _proba(10, 2, seed=4)
    proba[3, 0] = np.nan
    assert predicted_scores(proba, [0, 1]).rows == 9


def test_class_cap_keeps_the_bins_of_kept_labels_only() -> None:
    proba = _proba(200, 5, seed=5)
    summary = predictions_summary(proba, list("abcde"), max_classes=3)
    assert summary.predicted is not None
    assert set(summary.predicted.classes) <= set(summary.labels)
    assert summary.predicted.rows == 200


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(bins=9),
        lambda d: d.update(rows=d["rows"] + 1),
        lambda d: d.update(rows=-1),
        lambda d: d.update(rows=True),
        lambda d: d["top"].pop(),
        lambda d: d["top"].__setitem__(9, [d["top"][9][0], d["top"][9][0] + 5.0]),
        lambda d: d["top"].__setitem__(9, [d["top"][9][0], float("nan")]),
        lambda d: d["top"].__setitem__(9, [d["top"][9][0], -1.0]),
        lambda d: d["top"].__setitem__(0, [-1, 0.0]),
        lambda d: d["top"].__setitem__(0, [1.5, 0.0]),
        lambda d: d["top"].__setitem__(0, "x"),
        lambda d: d["classes"].update(intruder=d["classes"]["1"]),
        lambda d: d.update(classes=[]),
        lambda d: d.update(top=None),
    ],
)
def test_decode_refuses_impossible_documents(change: object) -> None:
    attributes = dict(performance_attributes(predictions_summary(_proba(300, 2), [0, 1])))
    document = json.loads(str(attributes[PERFORMANCE_PREDICTED]))
    change(document)  # type: ignore[operator]
    attributes[PERFORMANCE_PREDICTED] = json.dumps(document)
    with pytest.raises(PerformanceDecodeError):
        decode_performance(attributes)


def test_decode_refuses_text_that_is_not_json() -> None:
    attributes = dict(performance_attributes(predictions_summary(_proba(10, 2), [0, 1])))
    attributes[PERFORMANCE_PREDICTED] = "{not json"
    with pytest.raises(PerformanceDecodeError):
        decode_performance(attributes)
