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
import threading
from collections import deque
from pathlib import Path
from typing import Final

from mlspan.collector.pdata import QueueFullError
from mlspan.collector.queue.base import QueueClosedError, QueuedBatch

logger = logging.getLogger(__name__)

SUFFIX: Final = ".otlp"
_NAME = re.compile(r"^(\d{20})-(\d+)\.otlp$")


class DiskQueue:
    """Bounded FIFO of batches, one file each, in ``directory``."""

    def __init__(self, directory: Path, capacity: int, fsync: bool = True) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._dir = directory
        self._capacity = capacity
        self._fsync = fsync
        self._cond = threading.Condition()
        self._closed = False
        self._dir.mkdir(parents=True, exist_ok=True)
        for leftover in self._dir.glob(".tmp-*"):
            leftover.unlink(missing_ok=True)
        found: list[tuple[int, int]] = []
        for path in self._dir.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), int(match.group(2))))
        found.sort()
        self._items: deque[tuple[int, int]] = deque(found)
        self._outstanding: dict[int, int] = {}
        self._next = (found[-1][0] + 1) if found else 1
        if found:
            logger.info("queue %s: %d batches restored from disk", self._dir, len(found))

    @property
    def capacity(self) -> int:
        """Most batches held at once (files restored from disk count too)."""
        return self._capacity

    @property
    def directory(self) -> Path:
        """Where the batch files live."""
        return self._dir

    def _path(self, key: int, span_count: int) -> Path:
        return self._dir / f"{key:020d}-{span_count}{SUFFIX}"

    def put(self, raw: bytes, span_count: int) -> None:
        """Write the batch to disk and enqueue it, or raise ``QueueFullError``."""
        with self._cond:
            if self._closed:
                raise QueueClosedError("queue is closed")
            if len(self._items) + len(self._outstanding) >= self._capacity:
                raise QueueFullError(f"queue full ({self._capacity} batches)")
            key = self._next
            self._next += 1
            # Reserve the slot while writing outside the lock.
            self._outstanding[key] = span_count
        try:
            self._write(key, span_count, raw)
        except BaseException:
            with self._cond:
                self._outstanding.pop(key, None)
            raise
        with self._cond:
            self._outstanding.pop(key, None)
            self._items.append((key, span_count))
            # Keep file order: a later key written faster must not overtake an earlier one.
            if len(self._items) > 1 and self._items[-2][0] > key:
                self._items = deque(sorted(self._items))
            self._cond.notify()

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
            with self._cond:
                if not self._items and not self._closed:
                    self._cond.wait(timeout)
                if not self._items:
                    return None
                key, span_count = self._items.popleft()
                self._outstanding[key] = span_count
            try:
                raw = self._path(key, span_count).read_bytes()
            except OSError as exc:
                logger.error("queue %s: batch %d unreadable, skipped: %s", self._dir, key, exc)
                with self._cond:
                    self._outstanding.pop(key, None)
                continue
            return QueuedBatch(raw, span_count, key)

    def ack(self, batch: QueuedBatch) -> None:
        """Delete the batch's file."""
        with self._cond:
            self._outstanding.pop(batch.key, None)
        self._path(batch.key, batch.span_count).unlink(missing_ok=True)

    def requeue(self, batch: QueuedBatch) -> None:
        """Give a handed-out batch back at the front (its file was never deleted)."""
        with self._cond:
            if self._outstanding.pop(batch.key, None) is not None:
                self._items.appendleft((batch.key, batch.span_count))
                self._cond.notify()

    def close(self) -> None:
        """Refuse new batches and wake waiters; files stay for the next run."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items) + len(self._outstanding)

    def pending_spans(self) -> int:
        """Spans held, queued or handed out."""
        with self._cond:
            return sum(n for _, n in self._items) + sum(self._outstanding.values())
