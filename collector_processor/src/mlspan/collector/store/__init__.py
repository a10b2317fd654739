"""The lineage store: a small interface and its SQLite implementation.

``open_store`` picks the implementation from a location: a file path, a directory (the
store goes to ``lineage.db`` inside it) or a ``sqlite:///path`` URL.
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


def open_store(location: str | Path) -> Store:
    """Open (creating and migrating as needed) the store at ``location``.

    Raises ``ValueError`` for a URL scheme no implementation handles.
    """
    text = str(location)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "sqlite":
            raise ValueError(f"unsupported store URL scheme '{scheme}' (supported: sqlite)")
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
