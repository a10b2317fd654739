"""The lineage store: a small interface and its SQLite and PostgreSQL implementations.

``open_store`` picks the implementation from a location: a file path, a directory (the
store goes to ``lineage.db`` inside it), a ``sqlite:///path`` URL, or a
``postgresql://user@host:port/database`` URL (needs the ``postgres`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from mlspan.collector.store.protocol import TARGET_KINDS, Store, StoreUnavailableError
from mlspan.collector.store.records import (
    INPUT,
    OUTPUT,
    Artifact,
    Component,
    ComponentRecord,
    Flag,
    IoRecord,
    LineageBatch,
    NameRecord,
    Note,
    RunRecord,
    artifact_kind,
)
from mlspan.collector.store.sqlite import SqliteStore, StoreVersionError

DEFAULT_FILE: Final = "lineage.db"
POSTGRES_SCHEMES: Final = ("postgresql", "postgres")


def _open_postgres(url: str, password: str | None) -> Store:
    """The PostgreSQL store at ``url``; psycopg is imported only for it (an extra)."""
    try:
        from mlspan.collector.store.postgres import PostgresStore
    except ImportError as exc:
        raise ValueError(
            f"a PostgreSQL store needs psycopg: pip install 'mlspan[postgres]' ({exc})"
        ) from exc
    return PostgresStore(url, password=password)


def open_store(location: str | Path, password: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``location``; ``password``
    is the database's (PostgreSQL), when not in the URL.

    Raises ``ValueError`` for a URL scheme no implementation handles.
    """
    text = str(location)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme in POSTGRES_SCHEMES:
            return _open_postgres(text, password)
        if scheme != "sqlite":
            raise ValueError(
                f"unsupported store URL scheme '{scheme}' (supported: sqlite, postgresql)"
            )
        text = rest
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", "\\")):
        path = path / DEFAULT_FILE
    return SqliteStore(path)


__all__ = [
    "DEFAULT_FILE",
    "INPUT",
    "OUTPUT",
    "TARGET_KINDS",
    "Artifact",
    "Component",
    "ComponentRecord",
    "Flag",
    "IoRecord",
    "LineageBatch",
    "NameRecord",
    "Note",
    "RunRecord",
    "SqliteStore",
    "Store",
    "StoreUnavailableError",
    "StoreVersionError",
    "artifact_kind",
    "open_store",
]
