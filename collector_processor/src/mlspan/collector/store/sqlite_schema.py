"""The SQLite schema as versioned migrations.

Each migration is a tuple of statements applied in one transaction; the database records
the number of migrations applied in ``schema_version``, so opening an older store
upgrades it and opening a newer one fails clearly instead of misreading it.
"""

from __future__ import annotations

from typing import Final

RUN_COLUMNS: Final = (
    "run_id, trace_id, parent_id, service, name, operation, component, start_ns, end_ns, "
    "status, status_message, code_commit, code_digest, params, model_class, model_name, "
    "model_version"
)
_WRITE_COLUMNS: Final = f"{RUN_COLUMNS}, inputs, outputs"
_INTEGER_COLUMNS: Final = frozenset(("start_ns", "end_ns"))
_RUN_FIELDS: Final = ", ".join(
    f"{c} {'INTEGER' if c in _INTEGER_COLUMNS else 'TEXT'} NOT NULL"
    for c in _WRITE_COLUMNS.split(", ")
    if c != "run_id"
)
"""Every run column but the key, as SQL column definitions (all ``NOT NULL``)."""
IO_TOKEN_CHARS: Final = ":_"
"""ASCII punctuation that the artifact-id index keeps inside tokens (besides letters,
digits and every non-ASCII character), so a content digest such as
``data:xxh3_128:9f...`` is one token."""
IO_AUTOMERGE: Final = 16
"""FTS5 ``automerge``: segments per level before they are merged. Higher than the
default 4 means fewer, larger merges while ingesting (about a third less CPU per edge
here) for a few more segments to look at per query."""


SUPERSEDES: Final = "(status <> 'error' OR outputs <> '')"
"""Which runs can supersede an earlier run of their component: all but a failed run
that produced nothing. Queries repeat this exact text so SQLite uses the partial index
``runs_superseding`` built on it."""


def _io_index(column: str) -> tuple[str, ...]:
    """The statements creating the inverted index over ``runs.<column>`` and filling it
    from the rows already there."""
    table = io_index(column)
    return (
        f"CREATE VIRTUAL TABLE {table} USING fts5({column}, content='', "
        f"tokenize=\"ascii tokenchars '{IO_TOKEN_CHARS}'\", detail=none, columnsize=0)",
        f"INSERT INTO {table} ({table}, rank) VALUES ('automerge', {IO_AUTOMERGE})",
        _fill_io_index(column, "0"),
    )


def _fill_io_index(column: str, first_seq: str) -> str:
    """Index the ids of every run from ``first_seq`` on (a literal or ``?``)."""
    return (
        f"INSERT INTO {io_index(column)} (rowid, {column}) "
        f"SELECT seq, {column} FROM runs WHERE seq >= {first_seq} AND {column} <> ''"
    )


def io_index(column: str) -> str:
    """The FTS5 table indexing ``runs.<column>`` (``inputs`` or ``outputs``)."""
    return f"runs_{column}_index"


MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        f"CREATE TABLE runs (run_id TEXT PRIMARY KEY, {_RUN_FIELDS})",
        "CREATE INDEX runs_by_component ON runs (component, start_ns, run_id)",
        "CREATE INDEX runs_by_start ON runs (start_ns, run_id)",
        "CREATE INDEX runs_by_parent ON runs (trace_id, parent_id)",
        """CREATE TABLE edges (
            artifact_id TEXT NOT NULL,
            direction TEXT NOT NULL,
            run_id TEXT NOT NULL,
            PRIMARY KEY (artifact_id, direction, run_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE artifact_names (
            name TEXT NOT NULL,
            artifact_id TEXT NOT NULL,
            last_seen_ns INTEGER NOT NULL,
            PRIMARY KEY (name, artifact_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX artifact_names_by_artifact ON artifact_names (artifact_id)",
        """CREATE TABLE components (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            first_seen_ns INTEGER NOT NULL,
            last_seen_ns INTEGER NOT NULL
        )""",
        """CREATE TABLE flags (
            artifact_id TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            flagged_ns INTEGER NOT NULL
        )""",
        """CREATE TABLE tags (
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            tag TEXT NOT NULL,
            PRIMARY KEY (target_kind, target_id, tag)
        ) WITHOUT ROWID""",
        """CREATE TABLE notes (
            note_id INTEGER PRIMARY KEY AUTOINCREMENT,
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_ns INTEGER NOT NULL
        )""",
        "CREATE INDEX notes_by_target ON notes (target_kind, target_id, note_id)",
    ),
    (
        # Runs get a stable integer key for the full-text indexes to point at (VACUUM may
        # renumber an implicit rowid); run_id stays the unique lookup key.
        f"CREATE TABLE runs_v2 (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, "
        f"{_RUN_FIELDS})",
        f"INSERT INTO runs_v2 ({_WRITE_COLUMNS}) SELECT {_WRITE_COLUMNS} FROM runs ORDER BY rowid",
        "DROP TABLE runs",
        "ALTER TABLE runs_v2 RENAME TO runs",
        "CREATE INDEX runs_by_component ON runs (component, start_ns, run_id)",
        "CREATE INDEX runs_by_start ON runs (start_ns, run_id)",
        "CREATE INDEX runs_by_parent ON runs (trace_id, parent_id)",
        *(statement for column in ("inputs", "outputs") for statement in _io_index(column)),
        "DROP TABLE edges",
    ),
    (
        # A component's identity is its service plus its name: staleness compares a run
        # with the newest run of the same identity that can supersede it.
        f"CREATE INDEX runs_superseding ON runs (service, component, start_ns, run_id) "
        f"WHERE {SUPERSEDES}",
    ),
)
"""Schema migrations, oldest first; never edit a released one, append a new one.

Layout for cheap ingest (since migration 2): a run's inputs and outputs live in its row
(``ID_SEPARATOR``-joined), and the reverse direction (which runs consumed or produced an
artifact) is a contentless FTS5 inverted index per column, keyed by the run's ``seq``.
FTS5 buffers new postings in memory and writes them as sorted segments that later
inserts merge, so indexing a run's artifacts costs about 4 us of SQLite's C code per
ML span instead of one B-tree insert on a random key per artifact (~20 us per span).
The writer fills the indexes itself, in the same transaction as the rows: a trigger
would open a savepoint per row, and FTS5 flushes a segment at every savepoint (eight
times the cost). A re-delivered run gets a new ``seq`` and new postings; the old ones
point at no row and are skipped, and every hit is checked against the row's ids.
Artifacts have no table of their own: an artifact exists when a run names it, and its
kind is its id prefix.
"""

ID_SEPARATOR: Final = "\x1f"
"""Joins artifact ids in ``runs.inputs``/``runs.outputs`` (ASCII unit separator)."""

UPSERT_RUN: Final = (
    f"INSERT INTO runs (seq, {_WRITE_COLUMNS}) VALUES ({', '.join('?' * 20)}) "
    "ON CONFLICT (run_id) DO UPDATE SET seq = excluded.seq, "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _WRITE_COLUMNS.replace(" ", "").split(",") if c != "run_id"
    )
)
"""Insert or replace a run; ``seq`` is new either way, so the postings written with it
are the ones that count."""
NEXT_SEQ: Final = "SELECT coalesce(max(seq), 0) + 1 FROM runs"
INDEX_NEW_RUNS: Final = tuple(_fill_io_index(c, "?") for c in ("inputs", "outputs"))
"""Index the ids of every run written since a ``seq`` (one statement per column, run
inside SQLite: no per-row work in Python, and one FTS5 savepoint per statement)."""
UPSERT_NAME: Final = (
    "INSERT INTO artifact_names (artifact_id, name, last_seen_ns) VALUES (?, ?, ?) "
    "ON CONFLICT (name, artifact_id) DO UPDATE SET "
    "last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)"
)
UPSERT_COMPONENT: Final = (
    "INSERT INTO components (name, owner, first_seen_ns, last_seen_ns) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET "
    "owner = CASE WHEN excluded.owner <> '' THEN excluded.owner ELSE owner END, "
    "first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
    "last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)"
)
INSERT_TAG: Final = (
    "INSERT INTO tags (target_kind, target_id, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
