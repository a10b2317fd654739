"""Bookkeeping shared by the batch queues: what is queued, what is handed out.

Batches are known by a sequence number (``key``) and their span count; the payload lives
elsewhere (in memory or in a file). A slot is reserved before the payload is stored and
published after, so capacity holds even while a slow write is in progress, and batches
leave in key order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from mlspan.collector.pdata import QueueFullError
from mlspan.collector.queue.base import QueueClosedError, QueuedBatch


class Ledger:
    """Queued and handed-out batches (``key -> span count``) under one condition."""

    def __init__(self, capacity: int, restored: Iterable[tuple[int, int]] = ()) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._queued: deque[tuple[int, int]] = deque(sorted(restored))
        self._held: dict[int, int] = {}
        self._next = self._queued[-1][0] + 1 if self._queued else 1
        self._closed = False

    def reserve(self, span_count: int) -> int:
        """A key for a new batch; ``QueueFullError`` at capacity, ``QueueClosedError``
        once closed."""
        with self._cond:
            if self._closed:
                raise QueueClosedError("queue is closed")
            if len(self._queued) + len(self._held) >= self.capacity:
                raise QueueFullError(f"queue full ({self.capacity} batches)")
            key = self._next
            self._next += 1
            self._held[key] = span_count
            return key

    def publish(self, key: int) -> None:
        """Make a reserved batch available to ``take``, keeping key order."""
        with self._cond:
            span_count = self._held.pop(key)
            self._queued.append((key, span_count))
            if len(self._queued) > 1 and self._queued[-2][0] > key:
                self._queued = deque(sorted(self._queued))
            self._cond.notify()

    def take(self, timeout: float) -> tuple[int, int] | None:
        """Hand out the oldest batch, or None after ``timeout`` or once closed and empty."""
        with self._cond:
            if not self._queued and not self._closed:
                self._cond.wait(timeout)
            if not self._queued:
                return None
            key, span_count = self._queued.popleft()
            self._held[key] = span_count
            return key, span_count

    def release(self, key: int) -> None:
        """Forget a reserved or handed-out batch."""
        with self._cond:
            self._held.pop(key, None)

    def give_back(self, key: int) -> bool:
        """Return a handed-out batch to the front; False if it was not handed out."""
        with self._cond:
            span_count = self._held.pop(key, None)
            if span_count is None:
                return False
            self._queued.appendleft((key, span_count))
            self._cond.notify()
            return True

    def close(self) -> None:
        """Refuse new reservations and wake waiting ``take`` calls."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queued) + len(self._held)

    def pending_spans(self) -> int:
        """Spans of every queued, reserved or handed-out batch."""
        with self._cond:
            return sum(n for _, n in self._queued) + sum(self._held.values())


class LedgerQueue:
    """The part of a batch queue that only keeps books; subclasses store payloads and
    implement ``put``, ``get`` and ``ack``."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @property
    def capacity(self) -> int:
        """Most batches held at once (queued plus handed out)."""
        return self._ledger.capacity

    def requeue(self, batch: QueuedBatch) -> None:
        """Give a handed-out batch back at the front (its payload was kept)."""
        self._ledger.give_back(batch.key)

    def close(self) -> None:
        """Refuse new batches and wake waiters."""
        self._ledger.close()

    def __len__(self) -> int:
        return len(self._ledger)

    def pending_spans(self) -> int:
        """Spans held, queued or handed out."""
        return self._ledger.pending_spans()
