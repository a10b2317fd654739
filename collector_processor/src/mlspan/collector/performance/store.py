"""Keeps the merged windows, validation scores and concept-drift detectors across
restarts in ``performance.sqlite``.

Windows and a version's merged ``evaluate`` outcomes (the reference of its estimated
performance) are stored in their wire form (the span attributes of the merged summary, as
JSON) and read back through the checked ``decode_performance``: a damaged row is skipped
and counted, never trusted. Nothing outside this module knows it is SQLite.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from mlspan.collector.performance.extract import ModelKey
from mlspan.collector.performance.state import Window
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_codec import (
    MAX_COUNT,
    MAX_LABEL,
    PerformanceDecodeError,
    decode_performance,
    performance_attributes,
)
from mlspan.summaries.performance_predicted import (
    PredictedDecodeError,
    PredictedScores,
    decode_predicted,
)

logger = logging.getLogger(__name__)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS performance_window (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
    start REAL NOT NULL, end_time REAL NOT NULL, summary TEXT NOT NULL,
    predictions INTEGER, predictions_time REAL NOT NULL, spans INTEGER NOT NULL,
    PRIMARY KEY (service, model, version, start)
);
CREATE TABLE IF NOT EXISTS performance_validation (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (service, model, version)
);
CREATE TABLE IF NOT EXISTS performance_evaluated (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (service, model, version)
);
CREATE TABLE IF NOT EXISTS performance_traced (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
    start REAL NOT NULL, end_time REAL NOT NULL, predicted TEXT NOT NULL,
    PRIMARY KEY (service, model, version, start)
);
CREATE TABLE IF NOT EXISTS performance_concept (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (service, model, version)
);
"""


class PerformanceStore:
    """Windows and validation scores of the performance processor in one file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.damaged = 0
        """Rows skipped on load because they no longer decode."""
        with self._lock, self._db:
            self._db.executescript(SCHEMA)

    def save_windows(self, windows: Iterable[tuple[ModelKey, Window]]) -> None:
        """Insert or replace windows, in one transaction."""
        rows = [
            (
                key.service,
                key.model,
                key.version,
                w.start,
                w.end,
                json.dumps(performance_attributes(w.summary), separators=(",", ":")),
                w.predictions,
                w.predictions_time,
                w.spans,
            )
            for key, w in windows
        ]
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO performance_window VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def save_validation(self, key: ModelKey, score: float) -> None:
        """Insert or replace a version's validation score."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO performance_validation VALUES (?, ?, ?, ?)",
                (key.service, key.model, key.version, score),
            )

    def delete_window(self, key: ModelKey, start: float) -> None:
        """Forget a window evicted from memory."""
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM performance_window"
                " WHERE service = ? AND model = ? AND version = ? AND start = ?",
                (key.service, key.model, key.version, start),
            )

    def save_evaluated(self, key: ModelKey, summary: PerformanceSummary) -> None:
        """Insert or replace a version's merged ``evaluate`` outcomes."""
        text = json.dumps(performance_attributes(summary), separators=(",", ":"))
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO performance_evaluated VALUES (?, ?, ?, ?)",
                (key.service, key.model, key.version, text),
            )

    def load_evaluated(self) -> Iterator[tuple[ModelKey, PerformanceSummary]]:
        """Every stored version's ``evaluate`` outcomes that still decode."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, summary FROM performance_evaluated"
            ).fetchall()
        for service, model, version, text in rows:
            try:
                summary = decode_performance(json.loads(text))
            except (PerformanceDecodeError, ValueError, TypeError):
                self.damaged += 1
                logger.warning("performance store: damaged outcomes of %s/%s", model, version)
                continue
            yield ModelKey(str(service), str(model), str(version)), summary

    def save_traced(
        self,
        rows: Iterable[tuple[ModelKey, float, float, PredictedScores]],
        oldest: dict[ModelKey, float],
    ) -> None:
        """Insert or replace traced probability windows; forget each version's windows
        older than its ``oldest`` kept one (evicted from memory)."""
        values = [
            (
                key.service,
                key.model,
                key.version,
                start,
                end,
                json.dumps(scores.to_json(), separators=(",", ":")),
            )
            for key, start, end, scores in rows
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO performance_traced VALUES (?, ?, ?, ?, ?, ?)", values
            )
            self._db.executemany(
                "DELETE FROM performance_traced"
                " WHERE service = ? AND model = ? AND version = ? AND start < ?",
                [(k.service, k.model, k.version, start) for k, start in oldest.items()],
            )

    def load_traced(self) -> Iterator[tuple[ModelKey, float, float, PredictedScores]]:
        """Every stored traced probability window that still decodes, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, start, end_time, predicted"
                " FROM performance_traced ORDER BY start"
            ).fetchall()
        for service, model, version, start, end, text in rows:
            try:
                doc = json.loads(text)
                labels = list(doc["classes"]) if isinstance(doc, dict) else []
                scores = decode_predicted(doc, labels, MAX_COUNT, MAX_LABEL)
            except (PredictedDecodeError, ValueError, TypeError, KeyError):
                self.damaged += 1
                logger.warning("performance store: damaged probabilities of %s/%s", model, version)
                continue
            key = ModelKey(str(service), str(model), str(version))
            yield key, float(start), float(end), scores

    def save_concepts(self, states: Iterable[tuple[ModelKey, str]]) -> None:
        """Insert or replace concept-drift detector states (JSON), in one transaction."""
        rows = [(key.service, key.model, key.version, text) for key, text in states]
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO performance_concept VALUES (?, ?, ?, ?)", rows
            )

    def load_concepts(self) -> list[tuple[ModelKey, str]]:
        """Every stored concept-drift detector state (JSON, checked by the reader)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, state FROM performance_concept"
            ).fetchall()
        return [(ModelKey(str(s), str(m), str(v)), str(text)) for s, m, v, text in rows]

    def load_windows(self) -> Iterator[tuple[ModelKey, Window]]:
        """Every stored window that still decodes, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, start, end_time, summary, predictions,"
                " predictions_time, spans FROM performance_window ORDER BY start"
            ).fetchall()
        for service, model, version, start, end, text, predictions, when, spans in rows:
            try:
                summary = decode_performance(json.loads(text))
            except (PerformanceDecodeError, ValueError, TypeError):
                self.damaged += 1
                logger.warning(
                    "performance store: a damaged window of %s/%s skipped", model, version
                )
                continue
            key = ModelKey(str(service), str(model), str(version))
            yield key, Window(float(start), float(end), summary, predictions, float(when), spans)

    def load_validation(self) -> list[tuple[ModelKey, float]]:
        """Every stored validation score."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, score FROM performance_validation"
            ).fetchall()
        return [(ModelKey(str(s), str(m), str(v)), float(score)) for s, m, v, score in rows]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
