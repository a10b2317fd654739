"""The lineage store on PostgreSQL (``postgresql://...`` store URLs).

The same ``Store`` interface and answers as ``SqliteStore``, for deployments that run
several collectors on one database. Writes go through one connection under a lock, one
transaction per batch, with each table written by as few statements as possible (runs
by a pipelined ``executemany``, every edge and name of the batch by one ``unnest``
insert). Reads take a connection from a bounded pool, and each graph read asks for a
whole set of ids with ``= ANY(...)``, so the lineage walk makes as many round trips as
on SQLite. PostgreSQL text cannot hold NUL characters, which SQLite's can: they are
stored as U+FFFD.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from mlspan.collector.store.postgres_schema import (
    INSERT_EDGES,
    INSERT_TAG,
    MIGRATIONS,
    RUN_COLUMNS,
    SCHEMA_VERSION_TABLE,
    SUPERSEDES,
    UPSERT_COMPONENT,
    UPSERT_NAMES,
    UPSERT_RUN,
)
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
from mlspan.collector.store.sqlite import StoreVersionError

POOL_SIZE: Final = 8
"""Most read connections open at once."""
CONNECT_TIMEOUT_S: Final = 10.0
LOCK_TIMEOUT_MS: Final = 30_000
"""How long a write waits for a lock another session holds before the store reports
itself unavailable (as SQLite's 30 s busy timeout does); the batch stays in the
write-ahead log and is retried."""
_IO_COLUMN: Final = {INPUT: "inputs", OUTPUT: "outputs"}


def _text(value: str) -> str:
    """``value`` as PostgreSQL can store it (no NUL characters)."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _clean(row: Sequence[Any]) -> tuple[Any, ...]:
    """A parameter row with NULs replaced in every string."""
    return tuple(_text(v) if isinstance(v, str) else v for v in row)


class PostgresStore(RunListings):
    """The lineage store in one PostgreSQL database, given by a libpq URL or DSN."""

    MARK = "%s"
    SUPERSEDES = SUPERSEDES

    def __init__(
        self, dsn: str, lock_timeout_ms: int = LOCK_TIMEOUT_MS, password: str | None = None
    ) -> None:
        self._dsn = dsn
        self._connect_args: dict[str, Any] = {"connect_timeout": int(CONNECT_TIMEOUT_S)}
        if password is not None:
            self._connect_args["password"] = password
        self._lock_timeout_ms = int(lock_timeout_ms)
        self._write_lock = threading.Lock()
        self._closed = False
        try:
            self._writer = self._connect_writer()
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"lineage store: {exc}") from exc
        try:
            self._migrate()
            self._pool = ConnectionPool(
                dsn,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={"autocommit": True, **self._connect_args},
                # A server restart breaks every idle connection: each is checked when
                # taken (one empty round trip) so reads never fail on a stale one.
                check=ConnectionPool.check_connection,
                open=True,
                timeout=CONNECT_TIMEOUT_S,
            )
        except BaseException as exc:
            self._writer.close()
            if isinstance(exc, psycopg.OperationalError):
                raise StoreUnavailableError(f"lineage store: {exc}") from exc
            raise

    def _connect_writer(self) -> psycopg.Connection[Any]:
        """The writing connection (autocommit: transactions are explicit)."""
        writer = psycopg.connect(self._dsn, autocommit=True, **self._connect_args)
        writer.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
        return writer

    def _migrate(self) -> None:
        with self._transaction() as db:
            # One collector migrates at a time; the others wait here.
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_VERSION_TABLE,))
            db.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_VERSION_TABLE} (version INTEGER)")
            row = db.execute(f"SELECT version FROM {SCHEMA_VERSION_TABLE}").fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise StoreVersionError(
                    f"the lineage database has schema version {version}; this mlspan "
                    f"knows {len(MIGRATIONS)}: upgrade mlspan"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            if row is None:
                db.execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES (%s)", (len(MIGRATIONS),))
            else:
                db.execute(f"UPDATE {SCHEMA_VERSION_TABLE} SET version = %s", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        """Number of migrations applied."""
        with self._read() as db:
            row = db.execute(f"SELECT version FROM {SCHEMA_VERSION_TABLE}").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._write_lock:
            if self._writer.broken and not self._closed:
                # The server restarted or dropped us: the next write reconnects.
                self._writer.close()
                self._writer = self._connect_writer()
            with self._writer.transaction():
                yield self._writer

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailableError(f"lineage store: {exc}") from exc

    # -- writes ----------------------------------------------------------------------
    def write(self, batch: LineageBatch) -> None:
        """Persist one batch in one transaction; ``StoreUnavailableError`` when the
        database fails (connection lost, shut down, out of space)."""
        if not batch:
            return
        try:
            self._write(batch)
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"lineage store: {exc}") from exc

    def _write(self, batch: LineageBatch) -> None:
        with self._transaction() as db:
            self._write_runs(db, batch.runs, batch.io)
            if batch.names:
                columns = list(zip(*(_clean(n) for n in batch.names), strict=True))
                db.execute(UPSERT_NAMES, (list(columns[0]), list(columns[1]), list(columns[2])))
            if batch.components:
                with db.cursor() as cursor:
                    cursor.executemany(
                        UPSERT_COMPONENT,
                        [_clean((c.name, c.owner, c.seen_ns, c.seen_ns)) for c in batch.components],
                    )
                    tags = [
                        _clean(("component", c.name, t)) for c in batch.components for t in c.tags
                    ]
                    if tags:
                        cursor.executemany(INSERT_TAG, tags)

    @staticmethod
    def _write_runs(
        db: psycopg.Connection[Any], runs: Sequence[RunRecord], io: Sequence[IoRecord]
    ) -> None:
        """Runs with their inputs/outputs inline, then every edge of the batch's runs."""
        linked: dict[tuple[str, str], tuple[str, ...]] = {}
        for run_id, direction, artifact_ids, _ in io:
            known = linked.get((run_id, direction))
            ids = tuple(_text(a) for a in artifact_ids)
            linked[(run_id, direction)] = (
                ids if known is None else tuple(dict.fromkeys(known + ids))
            )
        if not runs:
            return
        rows = []
        edge_artifacts: list[str] = []
        edge_directions: list[str] = []
        edge_runs: list[str] = []
        for run in runs:
            run_id = _text(run.run_id)
            inputs = list(linked.get((run.run_id, INPUT), ()))
            outputs = list(linked.get((run.run_id, OUTPUT), ()))
            rows.append((*_clean(run), inputs, outputs))
            for direction, linked_ids in ((INPUT, inputs), (OUTPUT, outputs)):
                edge_artifacts.extend(linked_ids)
                edge_directions.extend([direction] * len(linked_ids))
                edge_runs.extend([run_id] * len(linked_ids))
        with db.cursor() as cursor:
            cursor.executemany(UPSERT_RUN, rows)
        if edge_artifacts:
            db.execute(INSERT_EDGES, (edge_artifacts, edge_directions, edge_runs))

    def write_bulk(self, runs: Sequence[RunRecord], io: Sequence[IoRecord]) -> None:
        """Bulk load runs and their inputs/outputs in one transaction."""
        with self._transaction() as db:
            self._write_runs(db, runs, io)

    def close(self) -> None:
        """Close every connection; safe to call more than once."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._writer.close()
        self._pool.close()

    # -- runs and artifacts ----------------------------------------------------------
    def _runs_where(self, clause: str, params: Sequence[Any]) -> list[RunRecord]:
        with self._read() as db:
            rows = db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE {clause}", _clean(params))
            return [RunRecord(*row) for row in rows]

    def runs(self, run_ids: Collection[str]) -> dict[str, RunRecord]:
        """Runs by id."""
        wanted = list(dict.fromkeys(run_ids))
        if not wanted:
            return {}
        return {run.run_id: run for run in self._runs_where("run_id = ANY(%s)", (wanted,))}

    def _existing(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` some run names (in either direction)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT DISTINCT e.artifact_id FROM edges e JOIN runs r ON r.run_id = e.run_id "
                "WHERE e.artifact_id = ANY(%s) AND ("
                "(e.direction = 'in' AND e.artifact_id = ANY(r.inputs)) OR "
                "(e.direction = 'out' AND e.artifact_id = ANY(r.outputs)))",
                (ids,),
            ).fetchall()
        return {row[0] for row in rows}

    def artifacts(self, artifact_ids: Collection[str]) -> dict[str, Artifact]:
        """Artifacts by id (any id a run names) with names and flag state."""
        wanted = list(dict.fromkeys(artifact_ids))
        if not wanted:
            return {}
        present = self._existing(wanted)
        found = [aid for aid in wanted if aid in present]
        names: dict[str, list[str]] = {}
        with self._read() as db:
            for artifact_id, name in db.execute(
                "SELECT artifact_id, name FROM artifact_names WHERE artifact_id = ANY(%s) "
                "ORDER BY last_seen_ns DESC, name",
                (found,),
            ):
                names.setdefault(artifact_id, []).append(name)
            flagged = {
                row[0]
                for row in db.execute(
                    "SELECT artifact_id FROM flags WHERE artifact_id = ANY(%s)", (found,)
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
                    "SELECT artifact_id FROM artifact_names WHERE name = %s "
                    "ORDER BY last_seen_ns DESC, artifact_id",
                    (_text(name),),
                )
            ]
        found = self.artifacts(ids)
        return [found[i] for i in ids if i in found]

    def ids_with_prefix(self, prefix: str, limit: int) -> tuple[list[str], list[str]]:
        """Run and artifact ids starting with ``prefix`` (range scans in byte order)."""
        low, high = _text(prefix), _text(prefix) + "\U0010ffff"
        with self._read() as db:
            runs = db.execute(
                "SELECT run_id FROM runs WHERE run_id >= %s AND run_id < %s "
                "ORDER BY run_id LIMIT %s",
                (low, high, limit),
            ).fetchall()
            artifacts = db.execute(
                "SELECT DISTINCT e.artifact_id FROM edges e JOIN runs r ON r.run_id = e.run_id "
                "WHERE e.artifact_id >= %s AND e.artifact_id < %s AND ("
                "(e.direction = 'in' AND e.artifact_id = ANY(r.inputs)) OR "
                "(e.direction = 'out' AND e.artifact_id = ANY(r.outputs))) "
                "ORDER BY e.artifact_id LIMIT %s",
                (low, high, limit),
            ).fetchall()
        return [r[0] for r in runs], [a[0] for a in artifacts]

    # -- graph -----------------------------------------------------------------------
    def run_io(self, run_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """Artifacts each run consumed or produced (read from the run rows)."""
        wanted = list(dict.fromkeys(run_ids))
        if not wanted:
            return {}
        column = _IO_COLUMN[direction]
        with self._read() as db:
            rows = db.execute(
                f"SELECT run_id, {column} FROM runs WHERE run_id = ANY(%s)",
                (wanted,),
            ).fetchall()
        return {run_id: list(linked) for run_id, linked in rows if linked}

    def artifact_runs(self, artifact_ids: Collection[str], direction: str) -> dict[str, list[str]]:
        """Runs that consumed or produced each artifact (runs sorted by id)."""
        wanted = list(dict.fromkeys(artifact_ids))
        if not wanted:
            return {}
        column = _IO_COLUMN[direction]
        found: dict[str, list[str]] = {}
        with self._read() as db:
            rows = db.execute(
                "SELECT e.artifact_id, e.run_id FROM edges e JOIN runs r ON r.run_id = e.run_id "
                f"WHERE e.direction = %s AND e.artifact_id = ANY(%s) "
                f"AND e.artifact_id = ANY(r.{column}) ORDER BY e.artifact_id, e.run_id",
                (direction, wanted),
            )
            for artifact_id, run_id in rows:
                found.setdefault(artifact_id, []).append(run_id)
        return found

    # -- listings --------------------------------------------------------------------
    def component(self, name: str) -> Component | None:
        """A component by name."""
        with self._read() as db:
            row = db.execute(
                "SELECT name, owner, first_seen_ns, last_seen_ns FROM components WHERE name = %s",
                (_text(name),),
            ).fetchone()
        return Component(*row) if row else None

    # -- annotations -----------------------------------------------------------------
    def set_flag(self, artifact_id: str, flagged: bool, reason: str, at_ns: int) -> None:
        """Flag (keeping the first flag time) or unflag an output."""
        with self._transaction() as db:
            if flagged:
                db.execute(
                    "INSERT INTO flags (artifact_id, reason, flagged_ns) VALUES (%s, %s, %s) "
                    "ON CONFLICT (artifact_id) DO UPDATE SET reason = excluded.reason",
                    _clean((artifact_id, reason, at_ns)),
                )
            else:
                db.execute("DELETE FROM flags WHERE artifact_id = %s", (_text(artifact_id),))

    def flags(self) -> list[Flag]:
        """Every flagged output, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT artifact_id, reason, flagged_ns FROM flags ORDER BY flagged_ns, artifact_id"
            ).fetchall()
        return [Flag(*row) for row in rows]

    def add_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Attach tags."""
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany(INSERT_TAG, [_clean((kind, target, tag)) for tag in tags])

    def remove_tags(self, kind: str, target: str, tags: Sequence[str]) -> None:
        """Detach tags."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM tags WHERE target_kind = %s AND target_id = %s AND tag = ANY(%s)",
                (_text(kind), _text(target), [_text(t) for t in tags]),
            )

    def tags(self, kind: str, targets: Collection[str]) -> Mapping[str, list[str]]:
        """Sorted tags per target."""
        wanted = [_text(t) for t in dict.fromkeys(targets)]
        found: dict[str, list[str]] = {}
        if not wanted:
            return found
        with self._read() as db:
            for target, tag in db.execute(
                "SELECT target_id, tag FROM tags WHERE target_kind = %s AND target_id = ANY(%s) "
                "ORDER BY target_id, tag",
                (_text(kind), wanted),
            ):
                found.setdefault(target, []).append(tag)
        return found

    def add_note(self, kind: str, target: str, text: str, at_ns: int) -> Note:
        """Attach a note."""
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO notes (target_kind, target_id, text, created_ns) "
                "VALUES (%s, %s, %s, %s) RETURNING note_id",
                _clean((kind, target, text, at_ns)),
            ).fetchone()
        return Note(int(row[0]) if row else 0, kind, target, text, at_ns)

    def notes(self, kind: str, target: str) -> list[Note]:
        """Notes of one target, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT note_id, target_kind, target_id, text, created_ns FROM notes "
                "WHERE target_kind = %s AND target_id = %s ORDER BY note_id",
                (_text(kind), _text(target)),
            ).fetchall()
        return [Note(*row) for row in rows]
