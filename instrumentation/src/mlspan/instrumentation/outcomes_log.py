"""The local prediction log: predictions keyed by entity id, waiting for their labels.

Per-row predictions are raw data and never leave the application; they wait here, in a
SQLite file, until their true labels arrive (``OutcomeRecorder.record_outcomes``). One
row per (entity id, model version): the entity id as text, the prediction time, the
predicted label or value, the predicted probabilities (float64 bytes) when logged, and
whether a label was already joined, and the experiment arm that served it when the
caller named one. Logging an id again for the same model version
replaces its prediction (the label then judges the latest one) and clears its label
mark.

The log is bounded. Rows older than ``max_age_seconds`` and, beyond ``max_rows``, the
oldest rows are deleted after every write; SQLite reuses the freed pages, so the file
stays near ``max_rows`` rows' worth of pages (docs/outcomes.md gives measured bytes
per row). It is a plain file: it survives restarts, and a label arriving after a
restart still finds its prediction.

A ``PredictionLog`` is used from one thread only (the recorder's worker).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY, version TEXT UNIQUE NOT NULL,"
    " name TEXT NOT NULL, task TEXT NOT NULL, classes TEXT)",
    "CREATE TABLE IF NOT EXISTS predictions (entity TEXT NOT NULL, model INTEGER NOT NULL,"
    " at REAL NOT NULL, pred, proba BLOB, labelled INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (entity, model))",
    "CREATE INDEX IF NOT EXISTS predictions_at ON predictions (at)",
)
_ARM_COLUMN: Final = "ALTER TABLE predictions ADD COLUMN arm TEXT"
"""Added to logs written before predictions carried their experiment arm."""
WAL_LIMIT_BYTES: Final = 8 * 1024 * 1024
"""The write-ahead log file is truncated to this size after each checkpoint."""
_CHUNK: Final = 500
"""Ids per lookup query (well below SQLite's bound on query parameters)."""


@dataclass(frozen=True)
class ModelRecord:
    """A model version known to the log."""

    id: int
    version: str
    name: str
    task: str
    classes: tuple[str, ...] | None


class LoggedPrediction(NamedTuple):
    """One logged prediction, as a label lookup finds it (a tuple: thousands per call)."""

    entity: str
    model: int
    at: float
    pred: object
    proba: bytes | None
    labelled: int
    rowid: int
    arm: str | None = None


class PredictionLog:
    """A bounded SQLite table of predictions keyed by (entity id, model version)."""

    def __init__(self, path: str | Path, max_rows: int, max_age_seconds: float) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        for statement in _SCHEMA:
            self._db.execute(statement)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(predictions)")}
        if "arm" not in columns:
            self._db.execute(_ARM_COLUMN)
        self._max_rows = max_rows
        self._max_age = max_age_seconds
        self._models: dict[str, ModelRecord] = {}
        self._upper = self.size()
        """An upper bound of the rows in the log (counted exactly only when past the limit)."""

    def model(
        self, version: str, name: str, task: str, classes: Sequence[str] | None
    ) -> ModelRecord:
        """The record of a model version, created (or its classes updated) as needed."""
        known = self._models.get(version)
        wanted = tuple(classes) if classes is not None else None
        if known is not None and (wanted is None or known.classes == wanted):
            return known
        encoded = json.dumps(list(wanted)) if wanted is not None else None
        self._db.execute(
            "INSERT INTO models (version, name, task, classes) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (version) DO UPDATE SET classes = coalesce(excluded.classes, classes)",
            (version, name, task, encoded),
        )
        row = self._db.execute(
            "SELECT id, version, name, task, classes FROM models WHERE version = ?", (version,)
        ).fetchone()
        record = _model_record(row)
        self._models[version] = record
        return record

    def model_by_id(self, model_id: int) -> ModelRecord | None:
        """The record of a model version by its row id."""
        for record in self._models.values():
            if record.id == model_id:
                return record
        row = self._db.execute(
            "SELECT id, version, name, task, classes FROM models WHERE id = ?", (model_id,)
        ).fetchone()
        if row is None:
            return None
        record = _model_record(row)
        self._models[record.version] = record
        return record

    def add(
        self,
        rows: Sequence[tuple[str, int, float, object, bytes | None]],
        arm: str | None = None,
    ) -> None:
        """Log predictions (entity, model id, time, prediction, probabilities) served by
        experiment ``arm`` (if any), then bound."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions"
                " (entity, model, at, pred, proba, labelled, arm) VALUES (?, ?, ?, ?, ?, 0, ?)",
                [(*row, arm) for row in rows],
            )
        self._upper += len(rows)
        self.bound()

    def bound(self, now: float | None = None) -> int:
        """Delete rows past the age limit and the oldest beyond the row limit; how many."""
        cutoff = (time.time() if now is None else now) - self._max_age
        with self._transaction():
            deleted = self._db.execute("DELETE FROM predictions WHERE at < ?", (cutoff,)).rowcount
            self._upper -= max(deleted, 0)
            if self._upper > self._max_rows:  # a count(*) scans the table: only when needed
                (count,) = self._db.execute("SELECT count(*) FROM predictions").fetchone()
                excess = int(count) - self._max_rows
                self._upper = int(count)
                if excess > 0:
                    evicted = self._db.execute(
                        "DELETE FROM predictions WHERE rowid IN"
                        " (SELECT rowid FROM predictions ORDER BY at LIMIT ?)",
                        (excess,),
                    ).rowcount
                    deleted += evicted
                    self._upper -= evicted
        return max(deleted, 0)

    def find(self, entities: Sequence[str]) -> list[LoggedPrediction]:
        """Every logged prediction (of any model version) of the given entity ids."""
        found: list[LoggedPrediction] = []
        for start in range(0, len(entities), _CHUNK):
            chunk = entities[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(
                "SELECT entity, model, at, pred, proba, labelled, rowid, arm FROM predictions"
                f" WHERE entity IN ({marks})",
                chunk,
            )
            found.extend(map(LoggedPrediction._make, cursor))
        return found

    def mark_labelled(self, rowids: Sequence[int]) -> None:
        """Remember that these predictions (by row id) got their label."""
        with self._transaction():
            for start in range(0, len(rowids), _CHUNK):
                chunk = rowids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                self._db.execute(
                    f"UPDATE predictions SET labelled = 1 WHERE rowid IN ({marks})", chunk
                )

    def count(self, model_id: int, start: float, end: float) -> int:
        """Predictions of a model version logged with a time in [start, end)."""
        (count,) = self._db.execute(
            "SELECT count(*) FROM predictions WHERE at >= ? AND at < ? AND model = ?",
            (start, end, model_id),
        ).fetchone()
        return int(count)

    def size(self) -> int:
        """Rows in the log."""
        (count,) = self._db.execute("SELECT count(*) FROM predictions").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _model_record(row: tuple[int, str, str, str, str | None]) -> ModelRecord:
    classes = tuple(str(c) for c in json.loads(row[4])) if row[4] else None
    return ModelRecord(int(row[0]), str(row[1]), str(row[2]), str(row[3]), classes)
