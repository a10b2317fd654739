"""Keeps baselines and results across collector restarts in a small SQLite file.

Baselines are stored in their wire form (the summary event attributes), results as
JSON documents; nothing outside this module knows it is SQLite.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Final

from mlspan.collector.drift.codec import (
    ResultDecodeError,
    drift_from_json,
    drift_to_json,
    validation_from_json,
    validation_to_json,
)
from mlspan.collector.drift.results import DatasetDrift, ModelKey, ValidationResult
from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.summaries import FeatureSummary

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS drift_baseline (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
    feature TEXT NOT NULL, origin TEXT NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (service, model, version, feature, origin)
);
CREATE TABLE IF NOT EXISTS drift_baseline_seen (
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, token TEXT NOT NULL,
    PRIMARY KEY (service, model, version, token)
);
CREATE TABLE IF NOT EXISTS drift_result (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL,
    window_end REAL NOT NULL, drift TEXT NOT NULL, validation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_result_model ON drift_result (model, id);
"""


class ResultStore:
    """Baselines and result history of the drift engine in one file."""

    def __init__(self, path: Path, history: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._history = history
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        # WAL with NORMAL sync: a commit no longer waits for the disk, and a crash can lose
        # only the last commits, never corrupt the file (baselines are rebuilt from spans).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock, self._db:
            self._db.executescript(SCHEMA)

    def save_baselines(
        self,
        summaries: Collection[tuple[ModelKey, FeatureSummary]],
        seen: Mapping[ModelKey, Collection[str]],
    ) -> None:
        """Replace the stored baselines of some features and record each model's dataset
        tokens, in one transaction (the engine calls this once per batch)."""
        rows = [
            (
                key.service,
                key.model_name,
                key.model_version,
                summary.name,
                summary.origin.value,
                json.dumps(summary.to_attributes()),
            )
            for key, summary in summaries
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO drift_baseline VALUES (?, ?, ?, ?, ?, ?)", rows
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO drift_baseline_seen VALUES (?, ?, ?, ?)",
                [(*_key_row(key), token) for key, tokens in seen.items() for token in tokens],
            )

    def baseline_tokens(self) -> dict[ModelKey, set[str]]:
        """The dataset tokens already merged into each model's baseline."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, token FROM drift_baseline_seen"
            ).fetchall()
        out: dict[ModelKey, set[str]] = {}
        for service, model, version, token in rows:
            out.setdefault(ModelKey(service, model, version), set()).add(token)
        return out

    def baselines(self) -> list[tuple[ModelKey, FeatureSummary]]:
        """Every stored baseline summary that still decodes."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, model, version, summary FROM drift_baseline"
            ).fetchall()
        out: list[tuple[ModelKey, FeatureSummary]] = []
        for service, model, version, text in rows:
            try:
                summary = decode_summary(json.loads(text))
            except (BadSummary, ValueError, RecursionError):
                continue
            out.append((ModelKey(service, model, version), summary))
        return out

    def save_result(self, drift: DatasetDrift, validation: list[ValidationResult]) -> None:
        """Append one result and trim the model's history."""
        key = drift.key
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO drift_result (service, model, version, window_end, drift, validation)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.service,
                    key.model_name,
                    key.model_version,
                    drift.window_end,
                    json.dumps(drift_to_json(drift)),
                    json.dumps([validation_to_json(v) for v in validation]),
                ),
            )
            self._db.execute(
                "DELETE FROM drift_result WHERE service = ? AND model = ? AND version = ? AND id"
                " NOT IN (SELECT id FROM drift_result WHERE service = ? AND model = ? AND"
                " version = ? ORDER BY id DESC LIMIT ?)",
                (*_key_row(key), *_key_row(key), self._history),
            )

    def results(self) -> list[tuple[DatasetDrift, list[ValidationResult]]]:
        """Every stored result, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT drift, validation FROM drift_result ORDER BY id")
            fetched = rows.fetchall()
        out: list[tuple[DatasetDrift, list[ValidationResult]]] = []
        for drift, validation in fetched:
            try:
                checks = json.loads(validation)
                if not isinstance(checks, list):
                    raise ResultDecodeError("validation results must be a list")
                out.append(
                    (drift_from_json(json.loads(drift)), [validation_from_json(v) for v in checks])
                )
            except (ResultDecodeError, ValueError, RecursionError, TypeError):
                continue  # a damaged row is skipped, the rest restored
        return out

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


def _key_row(key: ModelKey) -> tuple[str, str, str]:
    return key.service, key.model_name, key.model_version
