"""The PostgreSQL schema of the lineage store as versioned migrations.

Same model as the SQLite schema (``sqlite_schema``): a run's inputs and outputs live in
its row, in order, and the reverse direction (which runs consumed or produced an
artifact) is a table of edges keyed by artifact id. A re-delivered run replaces its row
but leaves the edges it had; every edge found is checked against the row it points at,
so answers stay exact (as with SQLite's FTS5 postings). Identifiers and names use the
``C`` collation, so ordering and prefix ranges compare bytes like SQLite's ``BINARY``
whatever the database's locale.
"""

from __future__ import annotations

from typing import Final

RUN_COLUMNS: Final = (
    "run_id, trace_id, parent_id, service, name, operation, component, start_ns, end_ns, "
    "status, status_message, code_commit, code_digest, params, model_class, model_name, "
    "model_version"
)
_WRITE_COLUMNS: Final = f"{RUN_COLUMNS}, inputs, outputs"
_BIGINT_COLUMNS: Final = frozenset(("start_ns", "end_ns"))
_ARRAY_COLUMNS: Final = frozenset(("inputs", "outputs"))


def _column_type(name: str) -> str:
    if name in _BIGINT_COLUMNS:
        return "BIGINT"
    if name in _ARRAY_COLUMNS:
        return 'TEXT[] COLLATE "C"'
    return 'TEXT COLLATE "C"'


_RUN_FIELDS: Final = ", ".join(
    f"{c} {_column_type(c)} NOT NULL" for c in _WRITE_COLUMNS.split(", ") if c != "run_id"
)
SUPERSEDES: Final = "(status <> 'error' OR cardinality(outputs) > 0)"
"""Runs that can supersede an earlier run of their component (see ``sqlite_schema``);
queries repeat this exact text so the planner uses the partial index on it."""

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        f'CREATE TABLE runs (run_id TEXT COLLATE "C" PRIMARY KEY, {_RUN_FIELDS})',
        "CREATE INDEX runs_by_component ON runs (component, start_ns, run_id)",
        "CREATE INDEX runs_by_start ON runs (start_ns, run_id)",
        "CREATE INDEX runs_by_parent ON runs (trace_id, parent_id)",
        f"CREATE INDEX runs_superseding ON runs (service, component, start_ns, run_id) "
        f"WHERE {SUPERSEDES}",
        """CREATE TABLE edges (
            artifact_id TEXT COLLATE "C" NOT NULL,
            direction TEXT COLLATE "C" NOT NULL,
            run_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (artifact_id, direction, run_id)
        )""",
        """CREATE TABLE artifact_names (
            name TEXT COLLATE "C" NOT NULL,
            artifact_id TEXT COLLATE "C" NOT NULL,
            last_seen_ns BIGINT NOT NULL,
            PRIMARY KEY (name, artifact_id)
        )""",
        "CREATE INDEX artifact_names_by_artifact ON artifact_names (artifact_id)",
        """CREATE TABLE components (
            name TEXT COLLATE "C" PRIMARY KEY,
            owner TEXT NOT NULL,
            first_seen_ns BIGINT NOT NULL,
            last_seen_ns BIGINT NOT NULL
        )""",
        """CREATE TABLE flags (
            artifact_id TEXT COLLATE "C" PRIMARY KEY,
            reason TEXT NOT NULL,
            flagged_ns BIGINT NOT NULL
        )""",
        """CREATE TABLE tags (
            target_kind TEXT COLLATE "C" NOT NULL,
            target_id TEXT COLLATE "C" NOT NULL,
            tag TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (target_kind, target_id, tag)
        )""",
        """CREATE TABLE notes (
            note_id BIGSERIAL PRIMARY KEY,
            target_kind TEXT COLLATE "C" NOT NULL,
            target_id TEXT COLLATE "C" NOT NULL,
            text TEXT NOT NULL,
            created_ns BIGINT NOT NULL
        )""",
        "CREATE INDEX notes_by_target ON notes (target_kind, target_id, note_id)",
    ),
)
"""Schema migrations, oldest first; never edit a released one, append a new one."""

SCHEMA_VERSION_TABLE: Final = "mlspan_lineage_schema_version"
"""Records how many migrations the database has (named for mlspan: the database may be
shared with other applications)."""

UPSERT_RUN: Final = (
    f"INSERT INTO runs ({_WRITE_COLUMNS}) VALUES ({', '.join(['%s'] * 19)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _WRITE_COLUMNS.replace(" ", "").split(",") if c != "run_id"
    )
)
INSERT_EDGES: Final = (
    "INSERT INTO edges (artifact_id, direction, run_id) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
)
"""Every edge of a batch in one statement (three parallel arrays)."""
UPSERT_NAMES: Final = (
    "INSERT INTO artifact_names (artifact_id, name, last_seen_ns) "
    "SELECT artifact_id, name, max(seen) FROM unnest(%s::text[], %s::text[], %s::bigint[]) "
    "AS n(artifact_id, name, seen) GROUP BY artifact_id, name "
    "ON CONFLICT (name, artifact_id) DO UPDATE SET "
    "last_seen_ns = greatest(artifact_names.last_seen_ns, excluded.last_seen_ns)"
)
UPSERT_COMPONENT: Final = (
    "INSERT INTO components (name, owner, first_seen_ns, last_seen_ns) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
    "owner = CASE WHEN excluded.owner <> '' THEN excluded.owner ELSE components.owner END, "
    "first_seen_ns = least(components.first_seen_ns, excluded.first_seen_ns), "
    "last_seen_ns = greatest(components.last_seen_ns, excluded.last_seen_ns)"
)
INSERT_TAG: Final = (
    "INSERT INTO tags (target_kind, target_id, tag) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)
