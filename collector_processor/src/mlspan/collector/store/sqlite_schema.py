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
            model_version TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_component ON runs (component, start_ns, run_id)",
        "CREATE INDEX runs_by_start ON runs (start_ns, run_id)",
        "CREATE INDEX runs_by_parent ON runs (trace_id, parent_id)",
        """CREATE TABLE artifacts (
            artifact_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            first_seen_ns INTEGER NOT NULL
        )""",
        """CREATE TABLE run_io (
            run_id TEXT NOT NULL,
            direction TEXT NOT NULL,
            artifact_id TEXT NOT NULL,
            PRIMARY KEY (run_id, direction, artifact_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX run_io_by_artifact ON run_io (artifact_id, direction, run_id)",
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
"""Schema migrations, oldest first; never edit a released one, append a new one."""

RUN_COLUMNS: Final = (
    "run_id, trace_id, parent_id, service, name, operation, component, start_ns, end_ns, "
    "status, status_message, code_commit, code_digest, params, model_class, model_name, "
    "model_version"
)

UPSERT_RUN: Final = (
    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 17)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in RUN_COLUMNS.replace(" ", "").split(",") if c != "run_id"
    )
)
INSERT_ARTIFACT: Final = (
    "INSERT INTO artifacts (artifact_id, kind, first_seen_ns) VALUES (?, ?, ?) "
    "ON CONFLICT (artifact_id) DO UPDATE SET "
    "first_seen_ns = min(first_seen_ns, excluded.first_seen_ns)"
)
INSERT_IO: Final = (
    "INSERT INTO run_io (run_id, direction, artifact_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
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
