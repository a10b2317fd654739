"""An in-memory bounded batch queue."""

from __future__ import annotations

from mlspan.collector.queue.base import QueuedBatch
from mlspan.collector.queue.ledger import Ledger


class MemoryQueue:
    """Bounded FIFO of batches in memory; lost on restart (see ``DiskQueue``)."""

    def __init__(self, capacity: int) -> None:
        self._ledger = Ledger(capacity)
        self._payloads: dict[int, bytes] = {}

    @property
    def capacity(self) -> int:
        """Most batches held at once."""
        return self._ledger.capacity

    def put(self, raw: bytes, span_count: int) -> None:
        """Enqueue or raise ``QueueFullError``."""
        key = self._ledger.reserve(span_count)
        self._payloads[key] = raw
        self._ledger.publish(key)

    def get(self, timeout: float) -> QueuedBatch | None:
        """The oldest batch, or None on timeout or when closed and empty."""
        taken = self._ledger.take(timeout)
        if taken is None:
            return None
        key, span_count = taken
        return QueuedBatch(self._payloads[key], span_count, key)

    def ack(self, batch: QueuedBatch) -> None:
        """Forget a handed-out batch."""
        self._ledger.release(batch.key)
        self._payloads.pop(batch.key, None)

    def requeue(self, batch: QueuedBatch) -> None:
        """Give a handed-out batch back at the front."""
        self._ledger.give_back(batch.key)

    def close(self) -> None:
        """Refuse new batches and wake waiters."""
        self._ledger.close()

    def __len__(self) -> int:
        return len(self._ledger)

    def pending_spans(self) -> int:
        """Spans held, queued or handed out."""
        return self._ledger.pending_spans()
