"""How the SQLite store opens and tunes its connections.

Readers get WAL-friendly defaults; the single writing connection also fixes the page size
of a new file, switches it to WAL and gets a large page cache, because lineage ingest is
dominated by inserts on random keys (span ids, content digests).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

PAGE_SIZE: Final = 16384
"""Page size of new stores (existing ones keep theirs). Span ids and content digests are
random keys, so nearly every edge insert lands on a different leaf page and each commit
writes those pages to the WAL; 16 KiB pages hold four times the keys of SQLite's default
4 KiB and cut the write cost per ML span by about a quarter here."""
WAL_CHECKPOINT_PAGES: Final = 4000
"""WAL pages before an automatic checkpoint (about 64 MB at ``PAGE_SIZE``): leaves pages
rewritten by consecutive batches to be copied back once."""
WRITER_CACHE_KIB: Final = 16384
"""Page cache of the writing connection (a ceiling, filled as pages are touched). Since
run inputs and outputs are indexed by FTS5 segments instead of a B-tree on random edge
keys, a larger cache buys nothing: ``bench/lineage_query.py``'s store write into a
2.1M-edge store cost 22.0-22.9 us per ML span with 16 MiB and 21.3-23.0 us with 256 MiB
(two alternating runs each), while a 256 MiB ceiling let the cache follow the store file
and the collector's RSS grow with every acknowledged span (``bench/fuzz.py``)."""
READER_CACHE_KIB: Final = 16384
"""Page cache of each pooled read connection."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any
    thread, waiting up to 30 s for a lock."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    return connection


def connect_writer(path: Path) -> sqlite3.Connection:
    """The writing connection: page size (new files only), WAL, checkpoints, cache."""
    connection = connect(path)
    connection.execute(f"PRAGMA page_size={PAGE_SIZE}")  # no-op once the file has pages
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    # A large transaction grows the WAL past the checkpoint size; shrink it afterwards.
    connection.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_PAGES * PAGE_SIZE}")
    connection.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    return connection
