"""Where alert episodes are kept: an interface and its SQLite implementation.

The tracker writes every transition through ``AlertHistory``; the API reads firing
alerts and recent episodes from it; on restart the firing ones are restored so they
can still resolve. Nothing outside this module knows the storage is SQLite.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from mlspan.collector.alerts.model import Alert, AlertStatus


class AlertHistory(Protocol):
    """Stored alert episodes."""

    def record(self, alerts: Sequence[Alert]) -> None:
        """Insert or update the episodes (fingerprint, ``starts_at``) of ``alerts``."""

    def firing(self) -> list[Alert]:
        """Episodes still firing, oldest first."""

    def recent(self, limit: int, model: str | None = None) -> list[Alert]:
        """The ``limit`` most recently started episodes (of ``model`` only, if given),
        newest first."""

    def close(self) -> None:
        """Release the storage; idempotent."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_episodes (
    fingerprint TEXT NOT NULL,
    starts_at REAL NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    insight TEXT NOT NULL,
    ends_at REAL,
    model TEXT NOT NULL,
    PRIMARY KEY (fingerprint, starts_at)
);
CREATE INDEX IF NOT EXISTS alert_episodes_status ON alert_episodes (status, starts_at);
CREATE INDEX IF NOT EXISTS alert_episodes_starts ON alert_episodes (starts_at);
"""
_MODEL_INDEX = (
    "CREATE INDEX IF NOT EXISTS alert_episodes_model ON alert_episodes (model, starts_at)"
)

_COLUMNS = "name, severity, status, labels, annotations, insight, starts_at, ends_at"


class SqliteAlertHistory:
    """Alert episodes in one SQLite file, pruned to the ``keep`` newest resolved ones."""

    def __init__(self, path: Path, keep: int = 10_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._keep = keep
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        _add_model_column(self._db)
        self._db.execute(_MODEL_INDEX)
        self._db.commit()

    def record(self, alerts: Sequence[Alert]) -> None:
        """Insert or update episodes in one transaction, then drop resolved episodes
        beyond ``keep``."""
        if not alerts:
            return
        rows = [
            (
                alert.fingerprint,
                alert.starts_at,
                alert.name,
                alert.severity,
                alert.status.value,
                json.dumps(dict(alert.labels), sort_keys=True),
                json.dumps(dict(alert.annotations), sort_keys=True),
                alert.insight,
                alert.ends_at,
                alert.labels.get("model", ""),
            )
            for alert in alerts
        ]
        with self._lock:
            db = self._open()
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO alert_episodes (fingerprint, starts_at, name,"
                    " severity, status, labels, annotations, insight, ends_at, model)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                if any(alert.status is AlertStatus.RESOLVED for alert in alerts):
                    db.execute(
                        "DELETE FROM alert_episodes WHERE status = ? AND rowid NOT IN ("
                        " SELECT rowid FROM alert_episodes WHERE status = ?"
                        " ORDER BY starts_at DESC LIMIT ?)",
                        (AlertStatus.RESOLVED.value, AlertStatus.RESOLVED.value, self._keep),
                    )

    def firing(self) -> list[Alert]:
        """Episodes still firing, oldest first."""
        return self._query(
            f"SELECT {_COLUMNS} FROM alert_episodes WHERE status = ? ORDER BY starts_at",
            (AlertStatus.FIRING.value,),
        )

    def recent(self, limit: int, model: str | None = None) -> list[Alert]:
        """The newest ``limit`` episodes, firing or resolved (of ``model`` only, if given)."""
        order = "ORDER BY starts_at DESC, rowid DESC LIMIT ?"
        if model is None:
            return self._query(f"SELECT {_COLUMNS} FROM alert_episodes {order}", (limit,))
        return self._query(
            f"SELECT {_COLUMNS} FROM alert_episodes WHERE model = ? {order}", (model, limit)
        )

    def close(self) -> None:
        """Close the database; later calls do nothing."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("alert history is closed")
        return self._db

    def _query(self, sql: str, args: tuple[object, ...]) -> list[Alert]:
        with self._lock:
            rows = self._open().execute(sql, args).fetchall()
        return [
            Alert(
                name=name,
                severity=severity,
                status=AlertStatus(status),
                labels=json.loads(labels),
                annotations=json.loads(annotations),
                insight=insight,
                starts_at=starts_at,
                ends_at=ends_at,
            )
            for name, severity, status, labels, annotations, insight, starts_at, ends_at in rows
        ]


def _add_model_column(db: sqlite3.Connection) -> None:
    """Bring a history written before episodes kept their model up to date."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(alert_episodes)")}
    if "model" not in columns:
        db.execute("ALTER TABLE alert_episodes ADD COLUMN model TEXT NOT NULL DEFAULT ''")
        db.execute(
            "UPDATE alert_episodes SET model = coalesce(json_extract(labels, '$.model'), '')"
        )
