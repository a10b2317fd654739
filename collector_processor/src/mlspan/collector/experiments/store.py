"""Keeps experiments across restarts in ``experiments.sqlite``: each declaration, where it
came from, when it was first held, and its state (resolved versions, per-arm totals,
sequential records) as JSON.

Rows are read back through the same checks as new declarations (``parse_experiment``)
and ``ExperimentRecord.with_state``: a damaged row is skipped and counted, never
trusted. Nothing outside this module knows it is SQLite.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from mlspan.collector.experiments.config import parse_experiment
from mlspan.collector.experiments.state import ExperimentRecord
from mlspan.collector.pipeline.factory import ConfigError

logger = logging.getLogger(__name__)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS experiment (
    name TEXT PRIMARY KEY, origin TEXT NOT NULL, definition TEXT NOT NULL,
    created REAL NOT NULL, state TEXT NOT NULL
);
"""


class ExperimentStore:
    """Experiment rows in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.damaged = 0
        """Rows skipped on load because they no longer read back."""
        with self._lock, self._db:
            self._db.executescript(SCHEMA)

    def load(self) -> Iterator[ExperimentRecord]:
        """Every stored experiment that reads back."""
        with self._lock:
            if self._db is None:
                return
            rows = self._db.execute(
                "SELECT name, origin, definition, created, state FROM experiment ORDER BY name"
            ).fetchall()
        for name, origin, definition, created, state in rows:
            try:
                config = parse_experiment(json.loads(definition), f"stored experiment {name}")
                record = ExperimentRecord(config, str(origin), float(created))
                yield record.with_state(json.loads(state))
            except (ConfigError, ValueError, TypeError) as exc:
                self.damaged += 1
                logger.warning("experiment store: experiment %r skipped: %s", name, exc)

    def save(self, records: list[ExperimentRecord]) -> None:
        """Insert or replace experiments, in one transaction."""
        rows = [
            (
                r.config.name,
                r.origin,
                json.dumps(r.config.to_json(), separators=(",", ":")),
                r.created,
                json.dumps(r.state_json(), separators=(",", ":")),
            )
            for r in records
        ]
        with self._lock:
            if self._db is None or not rows:
                return
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO experiment (name, origin, definition, created, state)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )

    def delete(self, name: str) -> None:
        """Forget one experiment."""
        with self._lock:
            if self._db is None:
                return
            with self._db:
                self._db.execute("DELETE FROM experiment WHERE name = ?", (name,))

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
