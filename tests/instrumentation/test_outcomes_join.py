"""Delayed labels joined to logged predictions become performance spans equal to sklearn's."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlspan.instrumentation.model_version import fitted_model_id
from mlspan.semconv import (
    OPERATION_NAME,
    OUTCOME_DUPLICATES,
    OUTCOME_PREDICTIONS,
    OUTCOME_UNMATCHED,
    PERFORMANCE_WINDOW_END,
)
from mlspan.semconv.spans import PERFORMANCE_SPAN_REQUIRED
from mlspan.summaries import performance_metrics as pm
from tests.instrumentation.outcome_spans import merged_by_window, recorder_at

HOUR = 3600.0
T0 = (time.time() // HOUR - 24) * HOUR  # a window boundary a day ago


def churn_model(seed: int = 0) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=3000) > 0).astype(int)
    return LogisticRegression().fit(x[:1000], y[:1000]), x[1000:], y[1000:]


def test_late_partial_out_of_order_and_duplicated_labels(tmp_path: Path) -> None:
    model, x, y = churn_model()
    ids = np.array([f"customer-{i}" for i in range(len(y))])
    first, second = slice(0, 1200), slice(1200, 2000)
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        with recorder.keyed(model, ids[first], at=T0 + 10) as scored:
            scored.predict_proba(x[first])
            scored.predict(x[first])
        recorder.log_predictions(
            model,
            ids[second],
            model.predict(x[second]),
            model.predict_proba(x[second]),
            at=T0 + HOUR + 5,
        )
        order = np.random.default_rng(1).permutation(len(y))
        labelled = order[:1500]  # partial: 500 predictions never get a label
        for part in np.array_split(labelled, 7):  # out of order, across both windows
            recorder.record_outcomes(ids[part], y[part], at=T0 + 2 * HOUR)
        recorder.record_outcomes(ids[labelled[:40]], 1 - y[labelled[:40]], at=T0 + 3 * HOUR)
        recorder.record_outcomes(
            ["nobody", ids[labelled[-1]], ids[labelled[-1]]], [1, 1, 0], at=T0 + 3 * HOUR
        )
        assert recorder.flush()
        spans = exporter.get_finished_spans()
    version = fitted_model_id(model)
    assert version is not None
    by_window = merged_by_window(spans)
    assert set(by_window) == {(version, int(T0)), (version, int(T0 + HOUR))}
    proba = model.predict_proba(x)
    pred = model.predict(x)
    for start, rows in ((T0, np.arange(0, 1200)), (T0 + HOUR, np.arange(1200, 2000))):
        joined = np.intersect1d(rows, labelled)
        summary = by_window[(version, int(start))]
        assert summary.count == joined.size
        assert pm.accuracy(summary) == sk.accuracy_score(y[joined], pred[joined])
        assert pm.log_loss(summary) == pytest.approx(sk.log_loss(y[joined], proba[joined]))
        expected = sk.roc_auc_score(y[joined], proba[joined, 1])
        assert abs(pm.roc_auc(summary) - expected) < 0.005
    for start, rows in ((T0, 1200), (T0 + HOUR, 800)):
        predicted = by_window[(version, int(start))].predicted
        assert predicted is not None and predicted.rows == rows  # every prediction, labelled or not
    operations = [dict(span.attributes or {})[OPERATION_NAME] for span in spans]
    assert operations[:2] == ["predictions", "predictions"]  # emitted first, at the flush
    spans = tuple(
        span for span in spans if dict(span.attributes or {})[OPERATION_NAME] != "predictions"
    )
    for span in spans:
        attributes = dict(span.attributes or {})
        assert set(PERFORMANCE_SPAN_REQUIRED) <= set(attributes)
        assert attributes[OPERATION_NAME] == "labels"
        assert (
            attributes[PERFORMANCE_WINDOW_END] - attributes["mlspan.performance.window.start"]
            == HOUR
        )
        assert attributes[OUTCOME_PREDICTIONS] in (1200, 800)
        # no per-row data: no entity id appears anywhere on the span
        assert not any("customer-" in str(value) for value in attributes.values())
    last = dict(spans[-1].attributes or {})
    # "nobody" matched nothing; 40 relabels, one repeated id in a call, one relabel of a labelled id
    assert last[OUTCOME_UNMATCHED] == 1
    assert last[OUTCOME_DUPLICATES] == 40 + 1 + 1


def test_predictions_survive_a_restart(tmp_path: Path) -> None:
    model, x, y = churn_model(2)
    ids = list(range(500))
    path = tmp_path / "state" / "log.sqlite"
    with recorder_at(path) as (recorder, _):
        recorder.log_predictions(model, ids, model.predict(x[:500]), at=T0)
    with recorder_at(path) as (recorder, exporter):
        recorder.record_outcomes(np.array(ids), y[:500], at=T0 + 20 * HOUR)
        assert recorder.flush()
        spans = exporter.get_finished_spans()
    (summary,) = merged_by_window(spans).values()
    assert pm.accuracy(summary) == sk.accuracy_score(y[:500], model.predict(x[:500]))


def test_regressor_outcomes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=800)
    model = LinearRegression().fit(x[:300], y[:300])
    pred = model.predict(x[300:])
    with recorder_at(tmp_path / "log.sqlite", window_seconds=600) as (recorder, exporter):
        recorder.log_predictions(model, range(500), pred, at=T0)
        recorder.record_outcomes(range(500), y[300:], at=T0 + 60)
        assert recorder.flush()
        spans = exporter.get_finished_spans()
    (summary,) = merged_by_window(spans).values()
    assert pm.mae(summary) == pytest.approx(sk.mean_absolute_error(y[300:], pred))
    assert pm.r2(summary) == pytest.approx(sk.r2_score(y[300:], pred))


def test_the_log_is_bounded_by_rows_and_age(tmp_path: Path) -> None:
    with recorder_at(tmp_path / "log.sqlite", max_rows=100, max_age_seconds=HOUR) as (
        recorder,
        exporter,
    ):
        now = time.time()
        recorder.log_predictions("v1", range(50), [1] * 50, at=now - 2 * HOUR)  # too old
        recorder.log_predictions("v1", range(50, 300), [1] * 250, at=now)
        recorder.record_outcomes(range(300), [1] * 300, at=now)
        assert recorder.flush()
        spans = exporter.get_finished_spans()
    (summary,) = merged_by_window(spans).values()
    assert summary.count <= 100
    assert dict(spans[0].attributes or {})[OUTCOME_UNMATCHED] == 300 - summary.count


def test_mixed_probability_rows_and_a_label_before_its_prediction(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    model, x, y = churn_model(4)
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        recorder.record_outcomes(["early"], [1], at=T0)  # before its prediction: unmatched
        recorder.log_predictions(model, ["early"], model.predict(x[:1]), at=T0)
        recorder.log_predictions(model, range(100), model.predict(x[:100]), at=T0 + 1)
        recorder.log_predictions(
            model,
            range(100, 300),
            None,
            model.predict_proba(x[100:300]),  # the prediction is the most probable class
            at=datetime.fromtimestamp(T0 + 2, tz=timezone.utc),
        )
        recorder.record_outcomes(range(300), y[:300], at=T0 + HOUR)
        assert recorder.flush()
        spans = exporter.get_finished_spans()
    (summary,) = merged_by_window(spans).values()
    assert summary.count == 300
    assert summary.probability is not None and summary.probability.rows == 200
    assert pm.accuracy(summary) == sk.accuracy_score(y[:300], model.predict(x[:300]))
    assert pm.log_loss(summary) == pytest.approx(
        sk.log_loss(y[100:300], model.predict_proba(x[100:300]))
    )
    assert summary.predicted is not None and summary.predicted.rows == 200
    assert dict(spans[-1].attributes or {})[OUTCOME_UNMATCHED] == 1
