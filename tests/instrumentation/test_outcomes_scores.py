"""Logged predictions with probabilities become predictions spans: binned probabilities
of every prediction per model version and window, before any label, with no row data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlspan.instrumentation.model_version import fitted_model_id
from mlspan.semconv import (
    MODEL_VERSION,
    OPERATION_NAME,
    OUTCOME_PREDICTIONS,
    PERFORMANCE_COUNT,
    PERFORMANCE_PREDICTED,
    PERFORMANCE_WINDOW_START,
)
from mlspan.semconv.spans import PERFORMANCE_SPAN_REQUIRED
from mlspan.summaries.performance_codec import decode_performance
from mlspan.summaries.performance_predicted import predicted_scores
from tests.instrumentation.outcome_spans import recorder_at

HOUR = 3600
T0 = (int(time.time()) // HOUR - 12) * HOUR


def _model() -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    y = (x[:, 0] + rng.normal(size=3000) > 0).astype(int)
    return LogisticRegression().fit(x[:500], y[:500]), x[500:]


def _predictions(spans: tuple) -> list[dict[str, object]]:  # type: ignore[type-arg]
    return [
        dict(span.attributes or {})
        for span in spans
        if dict(span.attributes or {}).get(OPERATION_NAME) == "predictions"
    ]


def test_each_window_gets_the_bins_of_all_its_predictions(tmp_path: Path) -> None:
    model, x = _model()
    proba = model.predict_proba(x)
    ids = np.array([f"cust-{i}" for i in range(len(x))])
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        with recorder.keyed(model, ids[:1000], at=T0 + 5) as scored:
            scored.predict_proba(x[:1000])
        recorder.log_predictions(model, ids[1000:1500], proba=proba[1000:1500], at=T0 + 900)
        recorder.log_predictions(model, ids[1500:], proba=proba[1500:], at=T0 + HOUR + 1)
        assert recorder.flush()
        spans = _predictions(exporter.get_finished_spans())
    assert [s[PERFORMANCE_WINDOW_START] for s in spans] == [T0, T0 + HOUR]
    for attributes, rows in zip(spans, (slice(0, 1500), slice(1500, None)), strict=True):
        assert set(PERFORMANCE_SPAN_REQUIRED) <= set(attributes)
        assert attributes[PERFORMANCE_COUNT] == 0
        assert attributes[OUTCOME_PREDICTIONS] == len(ids[rows])
        summary = decode_performance(attributes)
        assert summary.predicted is not None
        expected = predicted_scores(proba[rows], model.classes_)
        assert summary.predicted.rows == expected.rows == len(ids[rows])
        for label in ("0", "1"):
            got, want = summary.predicted.classes[label], expected.classes[label]
            assert [r for r, _ in got] == [r for r, _ in want]
            assert [s for _, s in got] == pytest.approx([s for _, s in want])
        assert PERFORMANCE_PREDICTED in attributes
        assert not any("cust-" in str(value) for value in attributes.values())  # no row data
        assert attributes[MODEL_VERSION] == fitted_model_id(model)


def test_no_predictions_span_without_probabilities_or_for_a_regressor(tmp_path: Path) -> None:
    model, x = _model()
    regressor = LinearRegression().fit(x, x[:, 0])
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        recorder.log_predictions(model, range(100), model.predict(x[:100]), at=T0)
        recorder.log_predictions(regressor, range(100), regressor.predict(x[:100]), at=T0)
        recorder.log_predictions("v1", range(5), [0, 1, 0, 1, 1], [[0.5, 0.5]] * 5, at=T0)
        assert recorder.flush()
        spans = _predictions(exporter.get_finished_spans())
    assert spans == []  # a version string has no classes: its probabilities are not binned


def test_predictions_spans_are_sent_on_the_emit_schedule(tmp_path: Path) -> None:
    model, x = _model()
    with recorder_at(tmp_path / "log.sqlite", emit_labels=500) as (recorder, exporter):
        recorder.log_predictions(model, range(600), proba=model.predict_proba(x[:600]), at=T0)
        deadline = time.monotonic() + 10
        while not _predictions(exporter.get_finished_spans()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_predictions(exporter.get_finished_spans())) == 1  # before any flush


def test_the_users_predict_proba_span_carries_the_binned_probabilities() -> None:
    from mlspan.instrumentation import instrument, uninstrument
    from tests.instrumentation.outcome_spans import provider_and_exporter

    _, x = _model()
    provider, exporter = provider_and_exporter()
    instrument(tracer_provider=provider)
    try:
        fitted = LogisticRegression().fit(x[:500], (x[:500, 0] > 0).astype(int))
        proba = fitted.predict_proba(x)
        fitted.predict(x)
    finally:
        uninstrument()
    spans = {span.name: dict(span.attributes or {}) for span in exporter.get_finished_spans()}
    traced = spans["predict_proba LogisticRegression"]
    start = traced[PERFORMANCE_WINDOW_START]
    assert isinstance(start, int) and start % HOUR == 0 and start <= time.time() < start + HOUR
    document = json.loads(str(traced[PERFORMANCE_PREDICTED]))
    expected = predicted_scores(proba, fitted.classes_).to_json()
    assert document["rows"] == len(x)
    assert [r for r, _ in document["top"]] == [r for r, _ in expected["top"]]  # type: ignore[attr-defined]
    assert [s for _, s in document["top"]] == pytest.approx([s for _, s in expected["top"]])  # type: ignore[attr-defined]
    assert PERFORMANCE_PREDICTED not in spans["predict LogisticRegression"]
    assert PERFORMANCE_PREDICTED not in spans["fit LogisticRegression"]
