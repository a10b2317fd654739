"""A bounded batch queue that keeps every batch in its own file until acknowledged.

Each ``put`` writes ``<sequence>-<spans>.otlp`` through a temporary file and an atomic
rename (with ``fsync`` of the file and the folder when ``fsync`` is on) before returning,
so a batch that a receiver acknowledged survives a crash or restart; ``ack`` deletes the
file. On open, files left by a previous run are queued again in sequence order. Only
the file names are kept in memory; contents are read when a worker takes the batch.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Final

from mlspan.collector.queue.base import QueuedBatch
from mlspan.collector.queue.ledger import Ledger, LedgerQueue

logger = logging.getLogger(__name__)

SUFFIX: Final = ".otlp"
_NAME = re.compile(r"^(\d{20})-(\d+)\.otlp$")


class DiskQueue(LedgerQueue):
    """Bounded FIFO of batches, one file each, in ``directory``."""

    def __init__(self, directory: Path, capacity: int, fsync: bool = True) -> None:
        self._dir = directory
        self._fsync = fsync
        self._dir.mkdir(parents=True, exist_ok=True)
        for leftover in self._dir.glob(".tmp-*"):
            leftover.unlink(missing_ok=True)
        found: list[tuple[int, int]] = []
        for path in self._dir.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), int(match.group(2))))
        super().__init__(Ledger(capacity, found))
        if found:
            logger.info("queue %s: %d batches restored from disk", self._dir, len(found))

    @property
    def directory(self) -> Path:
        """Where the batch files live."""
        return self._dir

    def _path(self, key: int, span_count: int) -> Path:
        return self._dir / f"{key:020d}-{span_count}{SUFFIX}"

    def put(self, raw: bytes, span_count: int) -> None:
        """Write the batch to disk and enqueue it, or raise ``QueueFullError``."""
        key = self._ledger.reserve(span_count)
        try:
            self._write(key, span_count, raw)
        except BaseException:
            self._ledger.release(key)
            raise
        self._ledger.publish(key)

    def _write(self, key: int, span_count: int, raw: bytes) -> None:
        tmp = self._dir / f".tmp-{key}"
        with open(tmp, "wb") as handle:
            handle.write(raw)
            if self._fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, self._path(key, span_count))
        if self._fsync:
            fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get(self, timeout: float) -> QueuedBatch | None:
        """Read the oldest batch, or None on timeout or when closed and empty."""
        while True:
            taken = self._ledger.take(timeout)
            if taken is None:
                return None
            key, span_count = taken
            try:
                raw = self._path(key, span_count).read_bytes()
            except OSError as exc:
                logger.error("queue %s: batch %d unreadable, skipped: %s", self._dir, key, exc)
                self._ledger.release(key)
                continue
            return QueuedBatch(raw, span_count, key)

    def ack(self, batch: QueuedBatch) -> None:
        """Delete the batch's file."""
        self._ledger.release(batch.key)
        self._path(batch.key, batch.span_count).unlink(missing_ok=True)
