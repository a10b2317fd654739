"""Experiment arms through the outcomes API: predictions logged with an arm come back as
labelled outcomes per arm (``mlspan.experiment.arm`` on the labels spans), in the same
window, beside predictions logged without one; a log written before arms were kept
gains the column and keeps its rows."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
from sklearn import metrics as sk

from mlspan.instrumentation.outcomes import evaluate
from mlspan.semconv import EXPERIMENT_ARM, OPERATION_NAME, OUTCOME_PREDICTIONS
from mlspan.summaries import performance_metrics as pm
from mlspan.summaries.performance_codec import decode_performance
from tests.instrumentation.outcome_spans import provider_and_exporter, recorder_at

AT = float(int(time.time()) // 3600 * 3600 - 7200)


def test_labels_are_summarised_per_arm(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ids = np.arange(3000)
    truth = rng.integers(0, 2, 3000)
    pred = np.where(rng.random(3000) < 0.8, truth, 1 - truth)
    arms = np.array(["control", "treatment", ""])[ids % 3]
    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        for arm in ("control", "treatment", ""):
            rows = arms == arm
            recorder.log_predictions("model:v1", ids[rows], pred[rows], at=AT, arm=arm or None)
        recorder.record_outcomes(ids, truth, at=AT + 60)
        assert recorder.flush()
        spans = [
            s
            for s in exporter.get_finished_spans()
            if dict(s.attributes or {})[OPERATION_NAME] == "labels"
        ]
    by_arm = {str(dict(s.attributes or {}).get(EXPERIMENT_ARM, "")): s for s in spans}
    assert sorted(by_arm) == ["", "control", "treatment"]
    for arm, span in by_arm.items():
        rows = arms == arm
        summary = decode_performance(dict(span.attributes or {}))
        assert summary.count == rows.sum()
        assert pm.accuracy(summary) == sk.accuracy_score(truth[rows], pred[rows])
        # the window's prediction count stays the version's (label coverage)
        assert dict(span.attributes or {})[OUTCOME_PREDICTIONS] == 3000


def test_keyed_predictions_carry_the_arm(tmp_path: Path) -> None:
    class Model:
        def predict(self, x: list[int]) -> list[int]:
            return [v % 2 for v in x]

    with recorder_at(tmp_path / "log.sqlite") as (recorder, exporter):
        with recorder.keyed(Model(), [1, 2, 3], at=AT, arm="b") as scored:
            assert scored.predict([1, 2, 3]) == [1, 0, 1]
        recorder.record_outcomes([1, 2, 3], [1, 1, 1], at=AT + 5)
        assert recorder.flush()
        (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})[EXPERIMENT_ARM] == "b"


def test_evaluate_carries_the_arm() -> None:
    provider, exporter = provider_and_exporter()
    evaluate("model:v3", [1, 0, 1], [1, 1, 1], arm="challenger", tracer_provider=provider)
    evaluate("model:v3", [1, 0, 1], [1, 1, 1], tracer_provider=provider)
    first, second = exporter.get_finished_spans()
    assert dict(first.attributes or {})[EXPERIMENT_ARM] == "challenger"
    assert EXPERIMENT_ARM not in dict(second.attributes or {})


def test_a_log_without_the_arm_column_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with recorder_at(path) as (recorder, _):
        recorder.log_predictions("model:v4", [1, 2], [0, 1], at=AT)
        assert recorder.flush()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE predictions DROP COLUMN arm")  # as written before arms
    db.commit()
    db.close()
    with recorder_at(path) as (recorder, exporter):
        recorder.record_outcomes([1, 2], [0, 0], at=AT + 5)
        assert recorder.flush()
        (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert EXPERIMENT_ARM not in attributes
    assert decode_performance(attributes).count == 2
