"""The outcomes API: evaluate without a log, argument errors, and nothing else raised."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression

from mlspan.instrumentation.outcomes import OutcomeRecorder, evaluate
from mlspan.semconv import MODEL_NAME, MODEL_VERSION, OPERATION_NAME
from mlspan.summaries import performance_metrics as pm
from tests.instrumentation.outcome_spans import merged_by_window, provider_and_exporter, recorder_at


def fitted() -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(900, 3))
    y = rng.choice(["a", "b", "c"], 900)
    x[:, 0] += (y == "a") * 1.5
    return LogisticRegression().fit(x[:400], y[:400]), x[400:], y[400:]


def test_evaluate_emits_one_span_equal_to_sklearn() -> None:
    model, x, y = fitted()
    provider, exporter = provider_and_exporter()
    proba, pred = model.predict_proba(x), model.predict(x)
    summary = evaluate(model, y, pred, proba, name="churn", tracer_provider=provider)
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert span.name == "evaluate churn"
    assert attributes[OPERATION_NAME] == "evaluate" and attributes[MODEL_NAME] == "churn"
    (decoded,) = merged_by_window((span,)).values()
    assert decoded == summary
    assert pm.accuracy(decoded) == sk.accuracy_score(y, pred)
    assert pm.brier(decoded) == pytest.approx(sk.brier_score_loss(y, proba, labels=model.classes_))
    assert abs(pm.roc_auc(decoded) - sk.roc_auc_score(y, proba, multi_class="ovr")) < 0.005


def test_evaluate_with_a_version_string_and_numbers_is_a_regression() -> None:
    provider, exporter = provider_and_exporter()
    summary = evaluate("model:v7", [1.0, 2.0, 3.0], [1.5, 2.0, 2.0], tracer_provider=provider)
    assert summary is not None and summary.regression is not None
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})[MODEL_VERSION] == "model:v7"
    assert pm.mae(summary) == pytest.approx(0.5)


def test_argument_errors_are_raised(tmp_path: Path) -> None:
    with recorder_at(tmp_path / "log.sqlite") as (recorder, _):
        with pytest.raises(ValueError):
            recorder.record_outcomes([1, 2], [1])
        with pytest.raises(ValueError):
            recorder.log_predictions("v", [1, 2], [1, 2, 3])
        with pytest.raises(ValueError):
            recorder.log_predictions("v", [1], [1], task="ranker")
        with pytest.raises(ValueError):
            evaluate("v", [1, 2], [1])
        with pytest.raises(ValueError):
            evaluate("v", [1, 0], [1, 1], proba=[[0.2, 0.8], [0.6, 0.4]])


def test_failures_inside_are_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    caplog.set_level(logging.WARNING)
    with recorder_at(blocker / "log.sqlite") as (recorder, exporter):
        recorder.log_predictions("v1", [1, 2], [0, 1])
        recorder.record_outcomes([1, 2], [0, 1])
        assert recorder.flush()
        assert exporter.get_finished_spans() == ()
    assert "cannot open the mlspan prediction log" in caplog.text
    provider, _ = provider_and_exporter()
    assert (
        evaluate(
            "v", ["a"], [object()], proba=[[0.1, 0.2]], classes=["a"], tracer_provider=provider
        )
        is None
    )


def test_keyed_passes_results_and_exceptions_through(tmp_path: Path) -> None:
    model, x, y = fitted()
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        with recorder.keyed(model, range(len(y))) as scored:
            assert np.array_equal(scored.predict(x), model.predict(x))
        error = ValueError("boom")
        with pytest.raises(ValueError) as raised, recorder.keyed(model, range(3)) as scored:
            scored.predict(x[:3])
            raise error
        assert raised.value is error
        with pytest.raises(ValueError), recorder.keyed(model, range(2)) as scored:
            scored.predict(np.zeros((2, 7)))  # the model's own error, unchanged
        recorder.record_outcomes(range(len(y)), y)
        assert recorder.flush()
        (summary,) = merged_by_window(exporter.get_finished_spans()).values()
    assert summary.count == len(y)
    assert pm.accuracy(summary) == sk.accuracy_score(y, model.predict(x))


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    with recorder_at(tmp_path / "log.sqlite", max_pending_rows=10) as (recorder, _):
        recorder.log_predictions("v1", range(11), [0] * 11)
        assert recorder.dropped_rows == 11


def test_recorder_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        OutcomeRecorder(tmp_path / "x.sqlite", max_rows=0)
