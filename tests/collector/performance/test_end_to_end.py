"""End to end: ``record_outcomes`` in the application, OTLP, a real collector process,
and the metrics it serves equal scikit-learn's on the joined raw rows.

Predictions are logged under entity ids in 1, 10 and 100 prediction windows (one model
name each), labels recorded later, partly and out of order; the collector merges the
windows and its results are compared with scikit-learn's metrics on the labelled rows:
exactly for counts, to rounding for sums, ROC AUC within 0.005.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from mlspan.collector.cli.main import main as mlspan_main
from mlspan.instrumentation.outcomes import OutcomeRecorder
from tests.collector.performance.collector import SERVICE, performance_collector
from tests.support.processes import poll

pytestmark = pytest.mark.slow

HOUR = 3600
BASE = int(time.time()) // HOUR * HOUR - 20 * 86400
"""Start of the first prediction window: within the prediction log's 90-day retention."""
ROWS = 6000


def _ece(proba: npt.NDArray[np.float64], truth: npt.NDArray[np.int64]) -> float:
    """Expected calibration error of the top label, 10 equal-width bins (lo, hi]."""
    top = proba.max(axis=1)
    hits = (proba.argmax(axis=1) == truth).astype(np.float64)
    which = np.searchsorted(np.linspace(0.1, 0.9, 9), top, side="left")
    total = 0.0
    for b in range(10):
        chosen = which == b
        total += abs(float(top[chosen].sum()) - float(hits[chosen].sum()))
    return total / float(top.size)


def _check_classifier(result: Mapping[str, Any], y: Any, proba: Any, pred: Any) -> None:
    metrics = result["metrics"]
    assert result["count"] == y.size
    assert metrics["accuracy"] == accuracy_score(y, pred)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, zero_division=0)
    for i, label in enumerate(("0", "1")):
        row = result["per_class"][label]
        assert row["precision"] == pytest.approx(precision[i], abs=1e-12)
        assert row["recall"] == pytest.approx(recall[i], abs=1e-12)
        assert row["f1"] == pytest.approx(f1[i], abs=1e-12)
        assert row["support"] == support[i]
    assert metrics["precision_macro"] == pytest.approx(precision.mean(), abs=1e-12)
    assert metrics["recall_macro"] == pytest.approx(recall.mean(), abs=1e-12)
    assert metrics["f1_macro"] == pytest.approx(f1.mean(), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y, proba), rel=1e-9)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, proba[:, 1]), rel=1e-9)
    assert metrics["calibration_error"] == pytest.approx(_ece(proba, y), abs=1e-9)
    assert abs(metrics["roc_auc"] - roc_auc_score(y, proba[:, 1])) <= 0.005


@pytest.mark.parametrize("windows", [1, 10, 100])
def test_metrics_equal_scikit_learn_across_merged_windows(tmp_path: Path, windows: int) -> None:
    rng = np.random.default_rng(windows)
    features, target = make_classification(ROWS, n_features=6, flip_y=0.1, random_state=windows)
    model = LogisticRegression().fit(features[:2000], target[:2000])
    proba = model.predict_proba(features)
    pred = proba.argmax(axis=1)
    ids = np.array([f"c{i}" for i in range(ROWS)])
    window_of = rng.integers(0, windows, ROWS)
    labelled = rng.random(ROWS) < 0.8  # the rest never get a label
    name = f"churn-{windows}"
    with performance_collector(tmp_path) as collector:
        provider = collector.provider()
        recorder = OutcomeRecorder(tmp_path / "log.sqlite", tracer_provider=provider)
        try:
            for w in range(windows):
                rows = window_of == w
                at = BASE + w * HOUR + 60
                recorder.log_predictions(
                    model, ids[rows], pred[rows], proba[rows], at=at, name=name
                )
            recorder.flush()
            # labels out of order: a shuffled order, in three calls over time
            order = rng.permutation(np.flatnonzero(labelled))
            for part in np.array_split(order, 3):
                recorder.record_outcomes(ids[part], target[part], at=BASE + 10 * 86400)
                recorder.flush()
        finally:
            recorder.close()
            provider.shutdown()
        result = collector.wait_for_count(name, int(labelled.sum()))
        assert result["service"] == SERVICE
        assert result["task"] == "classifier"
        assert result["predictions"] == ROWS
        assert result["label_coverage"] == pytest.approx(labelled.sum() / ROWS, abs=1e-12)
        _check_classifier(result, target[labelled], proba[labelled], pred[labelled])
        starts = [w["start"] for w in result["windows"]]
        assert starts == sorted({BASE + w * HOUR for w in window_of.tolist()})
        for window in result["windows"]:
            w = (int(window["start"]) - BASE) // HOUR
            rows = (window_of == w) & labelled
            assert window["count"] == rows.sum()
            assert window["predictions"] == (window_of == w).sum()
            assert window["metrics"]["accuracy"] == accuracy_score(target[rows], pred[rows])


def test_late_labels_land_in_their_prediction_window(tmp_path: Path) -> None:
    features, target = make_classification(900, n_features=4, random_state=3)
    model = LogisticRegression().fit(features, target)
    pred = model.predict(features)
    ids = np.array([f"e{i}" for i in range(900)])
    thirds = np.array_split(np.arange(900), 3)
    with performance_collector(tmp_path) as collector:
        provider = collector.provider()
        recorder = OutcomeRecorder(tmp_path / "log.sqlite", tracer_provider=provider)
        try:
            for w, rows in enumerate(thirds):
                recorder.log_predictions(
                    model, ids[rows], pred[rows], at=BASE + w * HOUR, name="late"
                )
            recorder.flush()
            # windows 1 and 2 labelled first; window 0's labels come two weeks later
            later = np.concatenate(thirds[1:])
            recorder.record_outcomes(ids[later], target[later], at=BASE + 3 * HOUR)
            recorder.flush()
            collector.wait_for_count("late", 600)
            half = thirds[0][:150]
            recorder.record_outcomes(ids[half], target[half], at=BASE + 14 * 86400)
            recorder.flush()
            rest = thirds[0][150:]
            recorder.record_outcomes(ids[rest], target[rest], at=BASE + 15 * 86400)
            recorder.flush()
        finally:
            recorder.close()
            provider.shutdown()
        result = collector.wait_for_count("late", 900)
    by_start = {w["start"]: w for w in result["windows"]}
    assert sorted(by_start) == [BASE, BASE + HOUR, BASE + 2 * HOUR]
    first = by_start[BASE]
    assert first["count"] == 300
    assert first["label_coverage"] == 1.0
    rows = thirds[0]
    assert first["metrics"]["accuracy"] == accuracy_score(target[rows], pred[rows])
    assert result["metrics"]["accuracy"] == accuracy_score(target, pred)


def test_cli_prometheus_and_floor_alert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    features, target = make_classification(1000, n_features=4, flip_y=0.3, random_state=5)
    model = LogisticRegression().fit(features, target)
    proba = model.predict_proba(features)
    ids = [f"p{i}" for i in range(1000)]
    rule = {"name": "AccuracyFloor", "kind": "performance", "metric": "accuracy", "threshold": 0.95}
    with performance_collector(tmp_path, rules=[rule]) as collector:
        provider = collector.provider()
        recorder = OutcomeRecorder(tmp_path / "log.sqlite", tracer_provider=provider)
        try:
            recorder.log_predictions(model, ids, proba=proba, at=BASE, name="floor")
            recorder.flush()
            recorder.record_outcomes(ids[:500], target[:500], at=BASE + HOUR)
            recorder.flush()
        finally:
            recorder.close()
            provider.shutdown()
        result = collector.wait_for_count("floor", 500)
        accuracy = result["metrics"]["accuracy"]
        assert accuracy == accuracy_score(target[:500], proba[:500].argmax(axis=1))
        assert accuracy < 0.95
        version = result["version"]

        def firing() -> list[dict[str, Any]] | None:
            alerts = collector.get_json("/api/v1/alerts")["firing"]
            found = [a for a in alerts if a["labels"]["alertname"] == "AccuracyFloor"]
            return found or None

        (alert,) = poll("the floor alert", firing, timeout=30)
        assert alert["labels"]["model"] == "floor"
        assert alert["labels"]["version"] == version
        assert "below the floor 0.95" in alert["insight"]

        text = collector.metrics_text()
        labels = f'metric="accuracy",model="floor",service="{SERVICE}",version="{version}"'
        line = next(x for x in text.splitlines() if x.startswith("mlspan_model_performance{"))
        assert "metric=" in line
        sample = next(
            x for x in text.splitlines() if x.startswith(f"mlspan_model_performance{{{labels}}}")
        )
        assert float(sample.split()[-1]) == pytest.approx(accuracy, rel=1e-12)
        coverage = f'mlspan_label_coverage{{model="floor",service="{SERVICE}",version="{version}"}}'
        sample = next(x for x in text.splitlines() if x.startswith(coverage))
        assert float(sample.split()[-1]) == 0.5

        code = mlspan_main(["performance", "--api", collector.api_url, "--model", "floor"])
        out = capsys.readouterr().out
        assert code == 0
        assert f"{SERVICE}/floor version {version} (classifier): 500 labelled" in out
        assert "coverage 50.0%" in out
        assert f"{accuracy:.4g}" in out
        code = mlspan_main(["performance", "--api", collector.api_url, "--model", "nobody"])
        assert code == 1
        assert "no performance results" in capsys.readouterr().err
    assert math.isfinite(accuracy)
