"""Keeps the registry in ``models.sqlite``: versions, metrics, serving services, tags.

The schema carries its version in SQLite's ``user_version``; a file written by a newer
collector is refused at start rather than misread. Nothing outside this module knows it
is SQLite. Every table is bounded by the registry's caps (versions per model, metrics
per version, services per version), which the registry enforces before writing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from mlspan.collector.models.records import (
    FitRecord,
    MetricRecord,
    MetricRow,
    ServingRow,
    VersionRef,
    VersionRow,
)

logger = logging.getLogger(__name__)

_REFUSED: Final = (sqlite3.DataError, sqlite3.IntegrityError, OverflowError, ValueError)
"""What SQLite raises for one row it cannot hold (an integer past 64 bits, a lone
surrogate, a NUL where none may be): such a row is dropped, the others are written."""
SCHEMA_VERSION: Final = 1
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS model_version (
    service TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    model_class TEXT NOT NULL, params TEXT NOT NULL,
    first_fit_ns INTEGER NOT NULL, last_fit_ns INTEGER NOT NULL, fits INTEGER NOT NULL,
    fit_seconds REAL NOT NULL, run_id TEXT NOT NULL, trace_id TEXT NOT NULL,
    parent_id TEXT NOT NULL, train_digest TEXT NOT NULL, target_digest TEXT NOT NULL,
    rows INTEGER, columns INTEGER, framework_version TEXT NOT NULL, libraries TEXT NOT NULL,
    search TEXT NOT NULL, summaries TEXT NOT NULL,
    PRIMARY KEY (service, name, seq), UNIQUE (service, name, digest)
);
CREATE INDEX IF NOT EXISTS model_version_digest ON model_version (digest);
CREATE TABLE IF NOT EXISTS model_metric (
    digest TEXT NOT NULL, source TEXT NOT NULL, metric TEXT NOT NULL, dataset TEXT NOT NULL,
    value REAL NOT NULL, rows INTEGER, at_ns INTEGER NOT NULL, service TEXT NOT NULL,
    PRIMARY KEY (digest, source, metric, dataset)
);
CREATE TABLE IF NOT EXISTS model_serving (
    digest TEXT NOT NULL, service TEXT NOT NULL, first_ns INTEGER NOT NULL,
    last_ns INTEGER NOT NULL, calls INTEGER NOT NULL, PRIMARY KEY (digest, service)
);
CREATE TABLE IF NOT EXISTS model_tag (
    service TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, tag TEXT NOT NULL,
    at_ns INTEGER NOT NULL, PRIMARY KEY (service, name, digest, tag)
);
"""
_VERSION_COLUMNS: Final = (
    "service, name, seq, digest, model_class, params, first_fit_ns, last_fit_ns, fits,"
    " fit_seconds, run_id, trace_id, parent_id, train_digest, target_digest, rows, columns,"
    " framework_version, libraries, search, summaries"
)


class SchemaError(RuntimeError):
    """The file was written with a schema this collector does not know."""


class ModelStore:
    """The registry's tables in one SQLite file (``:memory:`` without persistence)."""

    def __init__(self, path: Path | None) -> None:
        target = ":memory:"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        found = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            self._db.close()
            raise SchemaError(
                f"{target}: model registry schema {found} is newer than {SCHEMA_VERSION}"
            )
        with self._lock, self._db:
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writes -------------------------------------------------------------------------
    def write(
        self,
        versions: Iterable[tuple[VersionRef, FitRecord, str]],
        refits: Iterable[tuple[VersionRef, int, int]],
        metrics: Iterable[MetricRecord],
    ) -> None:
        """One batch in one transaction: new versions (from their first fit, with their
        summaries JSON), further fits of known versions ``(ref, fits, latest at_ns)``,
        and metric values (the latest per digest, source, metric and dataset)."""
        rows = [
            (
                ref.service,
                ref.name,
                ref.sequence,
                ref.digest,
                fit.model_class,
                fit.params,
                fit.start_ns,
                fit.start_ns,
                1,
                max(0.0, (fit.end_ns - fit.start_ns) / 1e9),
                fit.run_id,
                fit.trace_id,
                fit.parent_id,
                fit.train_digest,
                fit.target_digest,
                fit.rows,
                fit.columns,
                fit.framework_version,
                fit.libraries,
                fit.search,
                summaries,
            )
            for ref, fit, summaries in versions
        ]
        updates = [(n, at, ref.service, ref.name, ref.sequence) for ref, n, at in refits]
        values = [
            (m.digest, m.source, m.metric, m.dataset, m.value, m.rows, m.at_ns, m.service)
            for m in metrics
        ]
        if not (rows or updates or values):
            return
        marks = ", ".join("?" * 21)
        self._write_all(
            (
                (
                    f"INSERT OR IGNORE INTO model_version ({_VERSION_COLUMNS}) VALUES ({marks})",
                    rows,
                ),
                (
                    "UPDATE model_version SET fits = fits + ?, last_fit_ns = max(last_fit_ns, ?)"
                    " WHERE service = ? AND name = ? AND seq = ?",
                    updates,
                ),
                ("INSERT OR REPLACE INTO model_metric VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values),
            )
        )

    def _write_all(self, statements: Iterable[tuple[str, list[tuple[Any, ...]]]]) -> int:
        """Run every statement over its rows in one transaction; if SQLite refuses any row
        (a value it cannot hold that got past extraction), write the rows one by one so
        only the refused ones are lost, not the other clients' rows of the batch. Returns
        how many rows were refused."""
        work = [(sql, rows) for sql, rows in statements if rows]
        try:
            with self._lock, self._db:
                for sql, rows in work:
                    self._db.executemany(sql, rows)
            return 0
        except _REFUSED as exc:
            logger.warning("models store refused a batch (%s); writing it row by row", exc)
        refused = 0
        with self._lock:
            for sql, rows in work:
                for row in rows:
                    try:
                        with self._db:
                            self._db.execute(sql, row)
                    except _REFUSED:
                        refused += 1
        if refused:
            logger.warning("models store refused %d rows; they are dropped", refused)
        return refused

    def set_summaries(self, ref: VersionRef, summaries: str) -> None:
        """Replace a version's training-data feature summaries (JSON array)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE model_version SET summaries = ? WHERE service = ? AND name = ? AND seq = ?",
                (summaries, ref.service, ref.name, ref.sequence),
            )

    def put_serving(self, rows: Iterable[tuple[str, ServingRow]]) -> None:
        """Insert or replace serving rows ``(digest, row)``."""
        values = [(d, r.service, r.first_ns, r.last_ns, r.calls) for d, r in rows]
        self._write_all((("INSERT OR REPLACE INTO model_serving VALUES (?, ?, ?, ?, ?)", values),))

    def set_tags(
        self,
        service: str,
        name: str,
        digest: str,
        add: Iterable[str],
        remove: Iterable[str],
        at_ns: int,
        moved: Iterable[str] = (),
    ) -> None:
        """Add and remove tags of a version; ``moved`` tags are first removed from every
        other version of the model (stage tags)."""
        with self._lock, self._db:
            for tag in moved:
                self._db.execute(
                    "DELETE FROM model_tag WHERE service = ? AND name = ? AND tag = ?",
                    (service, name, tag),
                )
            for tag in remove:
                self._db.execute(
                    "DELETE FROM model_tag WHERE service = ? AND name = ? AND digest = ?"
                    " AND tag = ?",
                    (service, name, digest, tag),
                )
            self._db.executemany(
                "INSERT OR REPLACE INTO model_tag VALUES (?, ?, ?, ?, ?)",
                [(service, name, digest, tag, at_ns) for tag in add],
            )

    # -- reads --------------------------------------------------------------------------
    def refs(self) -> list[VersionRef]:
        """Every version's name, sequence and digest."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service, name, seq, digest FROM model_version ORDER BY service, name, seq"
            ).fetchall()
        return [VersionRef(str(s), str(n), int(q), str(d)) for s, n, q, d in rows]

    def versions(self, service: str, name: str) -> list[VersionRow]:
        """A model's versions in sequence order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_version WHERE service = ? AND name = ?"
                " ORDER BY seq",
                (service, name),
            ).fetchall()
        return [_version_row(row) for row in rows]

    def metrics(self, digests: Iterable[str]) -> dict[str, list[MetricRow]]:
        """Metric rows per digest, oldest first."""
        wanted = list(dict.fromkeys(digests))
        found: dict[str, list[MetricRow]] = {d: [] for d in wanted}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT digest, source, metric, value, rows, dataset, at_ns FROM model_metric"
                    f" WHERE digest IN ({marks}) ORDER BY at_ns",
                    chunk,
                ).fetchall()
                for digest, source, metric, value, count, dataset, at in rows:
                    found[str(digest)].append(
                        MetricRow(str(source), str(metric), float(value), count, str(dataset), at)
                    )
        return found

    def metric_count(self, digest: str) -> int:
        """How many metric rows a version holds."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM model_metric WHERE digest = ?", (digest,)
            ).fetchone()
        return int(row[0])

    def serving(self) -> list[tuple[str, ServingRow]]:
        """Every serving row ``(digest, row)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT digest, service, first_ns, last_ns, calls FROM model_serving"
            ).fetchall()
        return [(str(d), ServingRow(str(s), int(f), int(la), int(c))) for d, s, f, la, c in rows]

    def tags(self, service: str, name: str) -> dict[str, list[str]]:
        """Sorted tags per digest of one model."""
        with self._lock:
            rows = self._db.execute(
                "SELECT digest, tag FROM model_tag WHERE service = ? AND name = ? ORDER BY tag",
                (service, name),
            ).fetchall()
        found: dict[str, list[str]] = {}
        for digest, tag in rows:
            found.setdefault(str(digest), []).append(str(tag))
        return found

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._db.close()


def _version_row(row: Any) -> VersionRow:
    (
        service,
        name,
        seq,
        digest,
        cls,
        params,
        first,
        last,
        fits,
        seconds,
        run_id,
        trace_id,
        parent_id,
        train,
        target,
        rows,
        columns,
        framework,
        libraries,
        search,
        summaries,
    ) = row
    return VersionRow(
        VersionRef(str(service), str(name), int(seq), str(digest)),
        str(cls),
        str(params),
        int(first),
        int(last),
        int(fits),
        float(seconds),
        str(run_id),
        str(trace_id),
        str(parent_id),
        str(train),
        str(target),
        None if rows is None else int(rows),
        None if columns is None else int(columns),
        str(framework),
        str(libraries),
        str(search),
        str(summaries),
    )


def summaries_json(summaries: Iterable[dict[str, object]]) -> str:
    """Feature summaries as the compact JSON the store keeps."""
    return json.dumps(list(summaries), separators=(",", ":"), ensure_ascii=False)
