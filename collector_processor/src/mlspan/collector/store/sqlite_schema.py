"""The SQLite schema as versioned migrations.

Each migration is a tuple of statements applied in one transaction; the database records
the number of migrations applied in ``schema_version``, so opening an older store
upgrades it and opening a newer one fails clearly instead of misreading it.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            trace_id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            operation TEXT NOT NULL,
            component TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT NOT NULL,
            code_commit TEXT NOT NULL,
            code_digest TEXT NOT NULL,
            params TEXT NOT NULL,
            model_class TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL
        )""",
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
)
"""Schema migrations, oldest first; never edit a released one, append a new one.

Layout for cheap ingest: a run's inputs and outputs live in its row (``ID_SEPARATOR``-
joined), and ``edges`` holds the reverse direction only, keyed by artifact, so each edge
costs one B-tree insert. Artifacts have no table of their own: an artifact exists when
an edge names it, and its kind is its id prefix.
"""

ID_SEPARATOR: Final = "\x1f"
"""Joins artifact ids in ``runs.inputs``/``runs.outputs`` (ASCII unit separator)."""

RUN_COLUMNS: Final = (
    "run_id, trace_id, parent_id, service, name, operation, component, start_ns, end_ns, "
    "status, status_message, code_commit, code_digest, params, model_class, model_name, "
    "model_version"
)
_WRITE_COLUMNS: Final = f"{RUN_COLUMNS}, inputs, outputs"

UPSERT_RUN: Final = (
    f"INSERT INTO runs ({_WRITE_COLUMNS}) VALUES ({', '.join('?' * 19)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _WRITE_COLUMNS.replace(" ", "").split(",") if c != "run_id"
    )
)
INSERT_EDGE: Final = (
    "INSERT INTO edges (artifact_id, direction, run_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
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
