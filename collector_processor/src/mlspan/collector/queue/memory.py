"""An in-memory bounded batch queue."""

from __future__ import annotations

import itertools
import threading
from collections import deque

from mlspan.collector.pdata import QueueFullError
from mlspan.collector.queue.base import QueueClosedError, QueuedBatch


class MemoryQueue:
    """Bounded FIFO of batches in memory; lost on restart (see ``DiskQueue``)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items: deque[QueuedBatch] = deque()
        self._outstanding: dict[int, QueuedBatch] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._sequence = itertools.count(1)

    @property
    def capacity(self) -> int:
        """Most batches held at once."""
        return self._capacity

    def put(self, raw: bytes, span_count: int) -> None:
        """Enqueue or raise ``QueueFullError``."""
        with self._cond:
            if self._closed:
                raise QueueClosedError("queue is closed")
            if len(self._items) + len(self._outstanding) >= self._capacity:
                raise QueueFullError(f"queue full ({self._capacity} batches)")
            self._items.append(QueuedBatch(raw, span_count, next(self._sequence)))
            self._cond.notify()

    def get(self, timeout: float) -> QueuedBatch | None:
        """The oldest batch, or None on timeout or when closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            batch = self._items.popleft()
            self._outstanding[batch.key] = batch
            return batch

    def ack(self, batch: QueuedBatch) -> None:
        """Forget a handed-out batch."""
        with self._cond:
            self._outstanding.pop(batch.key, None)

    def requeue(self, batch: QueuedBatch) -> None:
        """Give a handed-out batch back at the front."""
        with self._cond:
            if self._outstanding.pop(batch.key, None) is not None:
                self._items.appendleft(batch)
                self._cond.notify()

    def close(self) -> None:
        """Refuse new batches and wake waiters."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items) + len(self._outstanding)

    def pending_spans(self) -> int:
        """Spans held, queued or handed out."""
        with self._cond:
            queued = sum(b.span_count for b in self._items)
            return queued + sum(b.span_count for b in self._outstanding.values())
