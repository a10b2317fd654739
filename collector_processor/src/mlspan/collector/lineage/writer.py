"""Writing queued lineage to the store so that one bad record loses only itself.

The writer merges up to ``MAX_BATCHES_PER_WRITE`` waiting batches (often from different
clients) into one transaction, which is what makes ingest cheap. When that transaction
fails, each batch is written on its own; when a batch fails alone, its runs are written
one by one (each with its edges), then its names and components one by one, so only the
records the store refuses are lost. Those are logged and counted: lost runs as dropped
spans (``lineage_store_error``), lost names and components in ``LineageCounters``.
Store writes are idempotent, so rewriting what a failed transaction rolled back is safe.

A failure of the store itself (``StoreUnavailableError``: locked, disk full, connection
lost) says nothing about the records, so it is not narrowed down: it propagates, and the
processor retries the whole write later.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from mlspan.collector.lineage.counters import LineageCounters
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.store import IoRecord, LineageBatch, Store, StoreUnavailableError

logger = logging.getLogger(__name__)

DROP_STORE_ERROR: Final = "lineage_store_error"
MAX_BATCHES_PER_WRITE: Final = 16
"""Waiting batches merged into one transaction: enough to amortise the commit, few
enough that an annotation from the API (flag, tag) waits well under a second."""


def merge(batches: Sequence[LineageBatch]) -> LineageBatch:
    """One batch holding every record of ``batches``, in order."""
    if len(batches) == 1:
        return batches[0]
    merged = LineageBatch()
    for records in batches:
        merged.runs.extend(records.runs)
        merged.io.extend(records.io)
        merged.names.extend(records.names)
        merged.components.extend(records.components)
    return merged


class IsolatingWriter:
    """Writes batches to ``store``, narrowing a failure down to the records causing it."""

    def __init__(self, store: Store, stats: IngestStats, counters: LineageCounters) -> None:
        self._store = store
        self._stats = stats
        self._counters = counters

    def write(self, batches: Sequence[LineageBatch]) -> None:
        """Write every batch; never raises for a record the store refuses, raises
        ``StoreUnavailableError`` when the store fails whatever the records."""
        try:
            self._store.write(merge(batches))
            return
        except StoreUnavailableError:
            raise
        except Exception as exc:
            if len(batches) == 1:
                self._narrow(batches[0], exc)
                return
            logger.warning(
                "lineage store write of %d merged batches failed (%s); writing them one by one",
                len(batches),
                exc,
            )
        for batch in batches:
            try:
                self._store.write(batch)
            except StoreUnavailableError:
                raise
            except Exception as exc:
                self._narrow(batch, exc)

    def _narrow(self, batch: LineageBatch, first: Exception) -> None:
        """Write ``batch`` record by record after it failed as a whole with ``first``."""
        self._counters.add_isolated_write()
        logger.warning(
            "lineage store write of a batch (%d runs) failed (%s); writing its records one by one",
            len(batch.runs),
            first,
        )
        io_by_run: dict[str, list[IoRecord]] = defaultdict(list)
        for io in batch.io:
            io_by_run[io.run_id].append(io)
        lost_runs = 0
        for run in batch.runs:
            single = LineageBatch(runs=[run], io=io_by_run.pop(run.run_id, []))
            if not self._try(single, f"run {run.run_id}"):
                lost_runs += 1
        lost_records = 0
        orphans = [io for ios in io_by_run.values() for io in ios]
        pieces = [LineageBatch(io=[io]) for io in orphans]
        pieces += [LineageBatch(names=[name]) for name in batch.names]
        pieces += [LineageBatch(components=[component]) for component in batch.components]
        for piece in pieces:
            if not self._try(piece, "record"):
                lost_records += 1
        if lost_runs:
            self._stats.spans_dropped(DROP_STORE_ERROR, lost_runs)
        if lost_records:
            self._counters.add_lost_records(lost_records)

    def _try(self, piece: LineageBatch, what: str) -> bool:
        try:
            self._store.write(piece)
        except StoreUnavailableError:
            raise
        except Exception:
            logger.exception("lineage store refused %s; it is dropped", what)
            return False
        return True
