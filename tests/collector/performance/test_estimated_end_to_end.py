"""End to end: estimated performance before labels, realised beside it once they come.

The real ``OutcomeRecorder`` logs a calibrated classifier's predictions with their
probabilities in four hourly windows and sends the validation outcomes of a labelled
reference set (``evaluate``); a real collector process estimates every window's accuracy
from the binned probabilities alone. Labels then arrive late and partly (one window
fully, one half in two deliveries, one never) and, for the last window, from a changed
relationship (concept drift: inputs and probabilities as before). The API shows the
realised accuracy beside the estimate per window; the CLI's ``EST.`` column and the
``mlspan_model_performance_estimated`` gauge agree; a restarted collector keeps both.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from mlspan.collector.cli.main import main as mlspan_main
from mlspan.instrumentation.outcomes import OutcomeRecorder, evaluate
from tests.collector.performance.collector import (
    SERVICE,
    PerformanceCollector,
    performance_collector,
)
from tests.support.processes import poll

pytestmark = pytest.mark.slow

HOUR = 3600
BASE = int(time.time()) // HOUR * HOUR - 10 * 86400
"""The reference's window; the scored windows follow hourly."""
FIT, REFERENCE, WINDOW_ROWS, WINDOWS = 20_000, 10_000, 10_000, 4
MODEL = "estimated"


def _data() -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    rows = FIT + REFERENCE + WINDOW_ROWS * WINDOWS
    x, y = make_classification(rows, 20, n_informative=6, flip_y=0.05, random_state=3)
    return LogisticRegression(max_iter=1000).fit(x[:FIT], y[:FIT]), x[FIT:], y[FIT:]


def _windows(collector: PerformanceCollector, ready: Any) -> list[dict[str, Any]]:
    def answer() -> list[dict[str, Any]] | None:
        results = collector.get_json(f"/api/v1/performance?model={MODEL}")["results"]
        windows: list[dict[str, Any]] = results[0]["windows"] if results else []
        return windows if ready(windows) else None

    return poll("performance windows", answer, timeout=60)


def test_estimates_before_labels_then_realised_beside_them(tmp_path: Path) -> None:
    model, x, y = _data()
    ref = slice(0, REFERENCE)
    parts = [
        slice(REFERENCE + i * WINDOW_ROWS, REFERENCE + (i + 1) * WINDOW_ROWS)
        for i in range(WINDOWS)
    ]
    proba = model.predict_proba(x)
    pred = model.predict(x)
    ids = np.array([f"c{i}" for i in range(len(y))])
    with performance_collector(tmp_path) as collector:
        provider = collector.provider()
        evaluate(
            model, y[ref], pred[ref], proba[ref], name=MODEL, at=BASE, tracer_provider=provider
        )
        recorder = OutcomeRecorder(
            tmp_path / "log.sqlite", tracer_provider=provider, emit_seconds=3600.0
        )
        try:
            for i, part in enumerate(parts):
                at = BASE + (i + 1) * HOUR + 30
                recorder.log_predictions(model, ids[part], proba=proba[part], at=at, name=MODEL)
            assert recorder.flush()

            # Before any label: an estimate per window, nothing realised.
            before = _windows(collector, lambda w: len(w) == WINDOWS + 1)
            assert before[0]["estimated"] is None  # the reference window: evaluate only
            for window, part in zip(before[1:], parts, strict=True):
                assert window["count"] == 0
                assert window["predicted"] == window["predictions"] == WINDOW_ROWS
                assert window["metrics"]["accuracy"] is None
                realised = accuracy_score(y[part], pred[part])
                assert abs(window["estimated"]["accuracy"] - realised) < 0.02

            # Labels: window 1 all (late), window 2 half in two deliveries, window 3
            # never, window 4 all, from a changed relationship (30 % of labels flipped).
            first, second, _, fourth = parts
            half = np.arange(second.start, second.start + WINDOW_ROWS // 2)
            recorder.record_outcomes(ids[first], y[first], at=BASE + 30 * HOUR)
            recorder.record_outcomes(ids[half[::2]], y[half[::2]], at=BASE + 6 * HOUR)
            recorder.record_outcomes(ids[half[1::2]], y[half[1::2]], at=BASE + 50 * HOUR)
            flipped = y[fourth].copy()
            changed = np.random.default_rng(3).random(WINDOW_ROWS) < 0.3
            flipped[changed] = 1 - flipped[changed]
            recorder.record_outcomes(ids[fourth], flipped, at=BASE + 8 * HOUR)
            assert recorder.flush()
        finally:
            recorder.close()
            provider.shutdown()

        after = _windows(collector, lambda w: len(w) == WINDOWS + 1 and w[4]["count"] > 0)
        _check_after(after, parts, half, y, pred, flipped)
        result = collector.get_json(f"/api/v1/performance?model={MODEL}")["results"][0]
        assert result["reference"] == {"source": "evaluate", "rows": REFERENCE, "until": None}
        assert result["predicted"] == WINDOW_ROWS * WINDOWS
        _check_surfaces(collector, result)
        stored = [w["estimated"] for w in after]

    with performance_collector(tmp_path) as restarted:  # same data folder
        again = _windows(restarted, lambda w: len(w) == WINDOWS + 1)
        assert [w["estimated"] for w in again] == stored
        assert [w["count"] for w in again] == [w["count"] for w in after]


def _check_after(
    windows: list[dict[str, Any]],
    parts: list[slice],
    half: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    flipped: np.ndarray,
) -> None:
    first, second, third, fourth = windows[1:]
    assert first["count"] == WINDOW_ROWS and first["label_coverage"] == 1.0
    assert first["metrics"]["accuracy"] == accuracy_score(y[parts[0]], pred[parts[0]])
    assert abs(first["estimated"]["accuracy"] - first["metrics"]["accuracy"]) < 0.02
    assert second["count"] == half.size and second["label_coverage"] == 0.5
    assert second["metrics"]["accuracy"] == accuracy_score(y[half], pred[half])
    assert abs(second["estimated"]["accuracy"] - second["metrics"]["accuracy"]) < 0.03
    assert third["count"] == 0 and third["estimated"]["accuracy"] is not None
    # concept drift: the probabilities, hence the estimate, did not change; the labels did
    assert fourth["metrics"]["accuracy"] == accuracy_score(flipped, pred[parts[3]])
    assert fourth["estimated"]["accuracy"] - fourth["metrics"]["accuracy"] > 0.15
    for window in windows[1:]:
        estimated = window["estimated"]
        assert set(estimated) == {"accuracy", "precision_macro", "recall_macro", "f1_macro"}
        assert all(0.0 <= value <= 1.0 for value in estimated.values())


def _check_surfaces(collector: PerformanceCollector, result: dict[str, Any]) -> None:
    labels = f'model="{MODEL}",service="{SERVICE}",version="{result["version"]}"'
    exposition = collector.metrics_text()
    line = next(
        row
        for row in exposition.splitlines()
        if row.startswith('mlspan_model_performance_estimated{metric="accuracy",') and labels in row
    )
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(result["estimated"]["accuracy"])

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = mlspan_main(
            ["performance", "--model", MODEL, "--windows", "--api", collector.api_url]
        )
    assert code == 0
    text = out.getvalue()
    assert "EST." in text
    assert "calibrated on evaluate (10,000 labelled)" in text
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("20")]
    assert len(rows) == WINDOWS + 1
    # WINDOW is "YYYY-MM-DD HH:MM - HH:MM" (4 cells), then LABELLED, COVERAGE, ACC, EST.
    assert rows[0][7] == "-" and rows[3][6] == "-" and rows[3][7] != "-"
    estimate = result["windows"][4]["estimated"]["accuracy"]
    assert rows[4][7] == f"{estimate:.4g}"
