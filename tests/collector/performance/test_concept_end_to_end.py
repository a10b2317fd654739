"""End to end: concept drift on the labelled stream of a real collector process.

Predictions of one model are logged in hourly windows and their labels recorded window
by window through ``OutcomeRecorder.record_outcomes``; the inputs never change. In the
drifting stream the label relationship flips for part of the rows from a given window
on, which doubles the error rate: the ``ConceptDrift`` alert fires with an insight naming
that window and both error rates, and ``GET /api/v1/performance`` and ``mlspan
performance`` show the detector's decision. A stable stream fires nothing. A restarted
collector continues with the detector it saved.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from mlspan.collector.cli.main import main as mlspan_main
from mlspan.instrumentation.outcomes import OutcomeRecorder
from tests.collector.performance.collector import PerformanceCollector, performance_collector
from tests.support.processes import poll

pytestmark = pytest.mark.slow

HOUR = 3600
BASE = int(time.time()) // HOUR * HOUR - 20 * 86400
WINDOW_ROWS = 500
WINDOWS = 14
FLIP_AT = 10
"""First window whose labels no longer follow the old relationship (drifting stream)."""


class Stream:
    """A fitted model, its predictions and the labels of ``WINDOWS`` hourly windows."""

    def __init__(self, flip: bool) -> None:
        rows = WINDOWS * WINDOW_ROWS
        features, target = make_classification(
            rows + 2000, n_features=6, flip_y=0.05, class_sep=1.5, random_state=11
        )
        self.model = LogisticRegression().fit(features[rows:], target[rows:])
        self.pred = self.model.predict(features[:rows])
        labels = target[:rows].copy()
        if flip:
            rng = np.random.default_rng(1)
            after = np.arange(rows) >= FLIP_AT * WINDOW_ROWS
            flipped = after & (rng.random(rows) < 0.12)
            labels[flipped] = 1 - labels[flipped]
        self.labels: npt.NDArray[np.int64] = labels
        self.ids = np.array([f"r{i}" for i in range(rows)])

    def rows(self, window: int) -> slice:
        return slice(window * WINDOW_ROWS, (window + 1) * WINDOW_ROWS)

    def error_rate(self, first: int, last: int) -> float:
        chosen = slice(first * WINDOW_ROWS, last * WINDOW_ROWS)
        return float(np.mean(self.pred[chosen] != self.labels[chosen]))

    def feed(self, collector: PerformanceCollector, log: Path, windows: range, name: str) -> None:
        """Log the predictions of ``windows``, then label them one window at a time."""
        provider = collector.provider()
        recorder = OutcomeRecorder(log, tracer_provider=provider)
        try:
            for w in windows:
                rows = self.rows(w)
                at = BASE + w * HOUR + 60
                recorder.log_predictions(
                    self.model, self.ids[rows], self.pred[rows], at=at, name=name
                )
            recorder.flush()
            for w in windows:
                rows = self.rows(w)
                recorder.record_outcomes(self.ids[rows], self.labels[rows], at=BASE + 3 * 86400)
                recorder.flush()
        finally:
            recorder.close()
            provider.shutdown()


def _alerts(collector: PerformanceCollector, name: str) -> list[dict[str, Any]]:
    body = collector.get_json("/api/v1/alerts?history=true&limit=100")
    episodes = body["firing"] + body["history"]
    return [a for a in episodes if a["labels"]["alertname"] == name]


def test_flipped_labels_fire_concept_drift_naming_the_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = Stream(flip=True)
    with performance_collector(tmp_path) as collector:
        stream.feed(collector, tmp_path / "log.sqlite", range(WINDOWS), "flipped")
        result = collector.wait_for_count("flipped", WINDOWS * WINDOW_ROWS)
        concept = poll(
            "the concept-drift decision",
            lambda: collector.get_json("/api/v1/performance?model=flipped")["results"][0][
                "concept_drift"
            ],
            timeout=30,
        )
        assert concept["alarms"] >= 1
        alerts = poll("the ConceptDrift alert", lambda: _alerts(collector, "ConceptDrift") or None)
        alert = alerts[0]
        assert alert["labels"]["model"] == "flipped"
        assert alert["labels"]["version"] == result["version"]
        when = datetime.fromtimestamp(BASE + FLIP_AT * HOUR, UTC).strftime("%Y-%m-%dT%H:%M")
        insight = alert["insight"]
        assert f"from window {when}" in insight, insight
        before = 100 * stream.error_rate(0, FLIP_AT)
        after_ = 100 * stream.error_rate(FLIP_AT, WINDOWS)
        assert after_ > before + 5
        assert f"error rate {before:.1f} % -> " in insight, insight
        assert "concept drift in flipped" in insight
        code = mlspan_main(["performance", "--api", collector.api_url, "--model", "flipped"])
        out = capsys.readouterr().out
        assert code == 0
        assert "concept drift" in out.lower()
        assert "error rate" in out


def test_stable_stream_fires_nothing(tmp_path: Path) -> None:
    stream = Stream(flip=False)
    with performance_collector(tmp_path) as collector:
        stream.feed(collector, tmp_path / "log.sqlite", range(WINDOWS), "stable")
        result = collector.wait_for_count("stable", WINDOWS * WINDOW_ROWS)
        concept = result["concept_drift"]
        assert concept is not None
        assert concept["alarms"] == 0
        assert concept["alarm"] is None
        latest = concept["latest"]
        assert latest["drift"] is False
        assert latest["since"] is not None
        assert latest["insight"].startswith("no significant change")
        assert concept["looks"] >= WINDOWS
        assert _alerts(collector, "ConceptDrift") == []


def test_detector_state_survives_a_restart(tmp_path: Path) -> None:
    stream = Stream(flip=True)
    log = tmp_path / "log.sqlite"
    with performance_collector(tmp_path) as collector:
        stream.feed(collector, log, range(FLIP_AT + 2), "restart")
        first = collector.wait_for_count("restart", (FLIP_AT + 2) * WINDOW_ROWS)
    saved = first["concept_drift"]
    assert saved["looks"] >= FLIP_AT + 2
    with performance_collector(tmp_path) as collector:
        again = collector.get_json("/api/v1/performance?model=restart")["results"][0]
        assert again["concept_drift"] == saved
        stream.feed(collector, log, range(FLIP_AT + 2, WINDOWS), "restart")
        final = collector.wait_for_count("restart", WINDOWS * WINDOW_ROWS)
        concept = final["concept_drift"]
        assert concept["looks"] > saved["looks"]
        assert concept["alarms"] >= saved["alarms"]
