"""SQLite implementation of ``Store``: WAL, versioned migrations, thread-safe.

One connection writes (the lineage writer thread and API annotations share it under a
lock, each write one transaction); reads use a small pool of connections, which WAL
lets run beside the writer without blocking. Id sets are queried in chunks that stay
under SQLite's bound-parameter limit.
"""

from __future__ import annotations

import itertools
import queue
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from mlspan.collector.store import sqlite_io_index
from mlspan.collector.store.protocol import StoreUnavailableError
from mlspan.collector.store.records import (
    INPUT,
    OUTPUT,
    Artifact,
    Component,
    Flag,
    IoRecord,
    LineageBatch,
    Note,
    RunRecord,
    artifact_kind,
)
from mlspan.collector.store.run_listings import RunListings
from mlspan.collector.store.sqlite_connection import connect, connect_writer
from mlspan.collector.store.sqlite_schema import (
    ID_SEPARATOR,
    INDEX_NEW_RUNS,
    INSERT_TAG,
    MIGRATIONS,
    NEXT_SEQ,
    RUN_COLUMNS,
    SUPERSEDES,
    UPSERT_COMPONENT,
    UPSERT_NAME,
    UPSERT_RUN,
)

CHUNK: Final = 500
"""Ids per ``IN (...)`` query."""
POOL_SIZE: Final = 8
"""Idle read connections kept open."""


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """``ids`` without repeats, in order, in lists of at most ``CHUNK``."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK):
        yield unique[start : start + CHUNK]


class StoreVersionError(RuntimeError):
    """The database was written by a newer mlspan (more migrations than this one knows)."""


class SqliteStore(RunListings):
    """The lineage store in one SQLite file."""

    SUPERSEDES = SUPERSEDES

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._writer = connect_writer(path)
        self._migrate()
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise StoreVersionError(
                    f"{self._path} has schema version {version}; this mlspan knows "
                    f"{len(MIGRATIONS)}: upgrade mlspan"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        """Number of migrations applied."""
        with self._read() as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = self._readers.get_nowait()
        except queue.Empty:
            connection = connect(self._path)
        try:
            yield connection
        finally:
            if self._closed or self._readers.qsize() >= POOL_SIZE:
                connection.close()
            else:
                self._readers.put(connection)

    def _select_in(
        self, sql: str, ids: Collection[str], extra: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` (with one ``{ids}`` placeholder) over ``ids`` in chunks."""
        rows: list[tuple[Any, ...]] = []
        with self._read() as db:
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                rows.extend(db.execute(sql.format(ids=marks), (*extra, *chunk)).fetchall())
        return rows

    # -- writes ----------------------------------------------------------------------
    def write(self, batch: LineageBatch) -> None:
        """Persist one batch in one transaction; ``StoreUnavailableError`` when SQLite
        itself fails (locked past the busy timeout, disk full, I/O error)."""
        if not batch:
            return
        try:
            self._write(batch)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"lineage store {self._path}: {exc}") from exc

    def _write(self, batch: LineageBatch) -> None:
        with self._transaction() as db:
            self._write_runs(db, batch.runs, batch.io)
            if batch.names:
                db.executemany(UPSERT_NAME, batch.names)
            if batch.components:
                db.executemany(
                    UPSERT_COMPONENT,
                    ((c.name, c.owner, c.seen_ns, c.seen_ns) for c in batch.components),
                )
                tags = [("component", c.name, t) for c in batch.components for t in c.tags]
                if tags:
                    db.executemany(INSERT_TAG, tags)

    @staticmethod
    def _write_runs(
        db: sqlite3.Connection, runs: Sequence[RunRecord], io: Sequence[IoRecord]
    ) -> None:
        """Runs with their inputs/outputs inline, then the artifact-id indexes for the
        reverse direction from the rows just written (see ``sqlite_schema``).

        Rows go to ``executemany`` as generators: each row tuple is freed once bound, so
        a write of thousands of spans does not pile up objects for the garbage collector.
        """
        consumed: dict[str, tuple[str, ...]] = {}
        produced: dict[str, tuple[str, ...]] = {}
        for run_id, direction, artifact_ids, _ in io:
            linked = consumed if direction == INPUT else produced
            known = linked.get(run_id)
            linked[run_id] = (
                artifact_ids if known is None else tuple(dict.fromkeys(known + artifact_ids))
            )
        if runs:
            join = ID_SEPARATOR.join
            inputs = consumed.get
            outputs = produced.get
            first = int(db.execute(NEXT_SEQ).fetchone()[0])
            db.executemany(
                UPSERT_RUN,
                (
                    (seq, *run, join(inputs(run[0], ())), join(outputs(run[0], ())))
                    for seq, run in zip(itertools.count(first), runs)
                ),
            )
            for statement in INDEX_NEW_RUNS:
                db.execute(statement, (first,))

    def write_bulk(self, runs: Sequence[RunRecord], io: Sequence[IoRecord]) -> None:
        """Bulk load runs and their inputs/outputs (benchmarks, imports) in one
        transaction."""
        with self._transaction() as db:
            self._write_runs(db, runs, io)

    def close(self) -> None:
        """Close every connection; safe to call more than once."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._writer.close()
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break

    # -- runs and artifacts ----------------------------------------------------------
    def runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        """Runs by id."""
        rows = self._select_in(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN ({{ids}})", run_ids)
        return {row[0]: RunRecord(*row) for row in rows}

    def artifacts(self, artifact_ids: Collection[str]) -> dict[str, Artifact]:
        """Artifacts by id (any id a run names) with names and flag state."""
        present: set[str] = set()
        with self._read() as db:
            for chunk in _chunks(artifact_ids):
                present |= sqlite_io_index.existing(db, chunk, (OUTPUT, INPUT))
        found = [aid for aid in dict.fromkeys(artifact_ids) if aid in present]
        names: dict[str, list[str]] = {}
        for artifact_id, name in self._select_in(
            "SELECT artifact_id, name FROM artifact_names WHERE artifact_id IN ({ids}) "
            "ORDER BY last_seen_ns DESC, name",
            found,
        ):
            names.setdefault(artifact_id, []).append(name)
        flagged = {
            row[0]
            for row in self._select_in(
                "SELECT artifact_id FROM flags WHERE artifact_id IN ({ids})", found
            )
        }
        return {
            aid: Artifact(aid, artifact_kind(aid), tuple(names.get(aid, ())), aid in flagged)
            for aid in found
        }

    def artifacts_named(self, name: str) -> list[Artifact]:
        """Artifacts known by ``name``, most recently seen first."""
        with self._read() as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT artifact_id FROM artifact_names WHERE name = ? "
                    "ORDER BY last_seen_ns DESC, artifact_id",
                    (name,),
                )
            ]
        found = self.artifacts(ids)
        return [found[i] for i in ids if i in found]

    def ids_with_prefix(self, prefix: str, limit: int) -> tuple[list[str], list[str]]:
        """Run and artifact ids starting with ``prefix`` (a range scan on run ids, a
        prefix query on the artifact-id indexes)."""
        upper = prefix + "\U0010ffff"
        with self._read() as db:
            runs = db.execute(
                "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT ?",
                (prefix, upper, limit),
            ).fetchall()
            artifacts = sqlite_io_index.with_prefix(db, prefix, limit, (OUTPUT, INPUT))
        return [r[0] for r in runs], artifacts

    # -- graph -----------------------------------------------------------------------
    def run_io(self, run_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """Artifacts each run consumed or produced (read from the run rows)."""
        column = "inputs" if direction == INPUT else "outputs"
        return {
            run_id: linked.split(ID_SEPARATOR)
            for run_id, linked in self._select_in(
                f"SELECT run_id, {column} FROM runs WHERE run_id IN ({{ids}})", run_ids
            )
            if linked
        }

    def artifact_runs(self, artifact_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """Runs that consumed or produced each artifact."""
        found: dict[str, list[str]] = {}
        with self._read() as db:
            for chunk in _chunks(artifact_ids):
                found.update(sqlite_io_index.linked_runs(db, chunk, direction))
        return found

    def _runs_where(self, clause: str, params: Sequence[Any]) -> list[RunRecord]:
        with self._read() as db:
            rows = db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE {clause}", params)
            return [RunRecord(*row) for row in rows]

    # -- listings --------------------------------------------------------------------
    def component(self, name: str) -> Component | None:
        """A component by name."""
        with self._read() as db:
            row = db.execute(
                "SELECT name, owner, first_seen_ns, last_seen_ns FROM components WHERE name = ?",
                (name,),
            ).fetchone()
        return Component(*row) if row else None

    # -- annotations -----------------------------------------------------------------
    def set_flag(self, artifact_id: str, flagged: bool, reason: str, at_ns: int) -> None:
        """Flag (keeping the first flag time) or unflag an output."""
        with self._transaction() as db:
            if flagged:
                db.execute(
                    "INSERT INTO flags (artifact_id, reason, flagged_ns) VALUES (?, ?, ?) "
                    "ON CONFLICT (artifact_id) DO UPDATE SET reason = excluded.reason",
                    (artifact_id, reason, at_ns),
                )
            else:
                db.execute("DELETE FROM flags WHERE artifact_id = ?", (artifact_id,))

    def flags(self) -> list[Flag]:
        """Every flagged output, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT artifact_id, reason, flagged_ns FROM flags ORDER BY flagged_ns, artifact_id"
            ).fetchall()
        return [Flag(*row) for row in rows]

    def add_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Attach tags."""
        with self._transaction() as db:
            db.executemany(INSERT_TAG, [(kind, target, tag) for tag in tags])

    def remove_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Detach tags."""
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM tags WHERE target_kind = ? AND target_id = ? AND tag = ?",
                [(kind, target, tag) for tag in tags],
            )

    def tags(self, kind: str, targets: Collection[str]) -> Mapping[str, list[str]]:
        """Sorted tags per target."""
        found: dict[str, list[str]] = {}
        for target, tag in self._select_in(
            "SELECT target_id, tag FROM tags WHERE target_kind = ? AND target_id IN ({ids}) "
            "ORDER BY target_id, tag",
            targets,
            (kind,),
        ):
            found.setdefault(target, []).append(tag)
        return found

    def add_note(self, kind: str, target: str, text: str, at_ns: int) -> Note:
        """Attach a note."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO notes (target_kind, target_id, text, created_ns) VALUES (?, ?, ?, ?)",
                (kind, target, text, at_ns),
            )
            note_id = int(cursor.lastrowid or 0)
        return Note(note_id, kind, target, text, at_ns)

    def notes(self, kind: str, target: str) -> list[Note]:
        """Notes of one target, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT note_id, target_kind, target_id, text, created_ns FROM notes "
                "WHERE target_kind = ? AND target_id = ? ORDER BY note_id",
                (kind, target),
            ).fetchall()
        return [Note(*row) for row in rows]
