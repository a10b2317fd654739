"""An in-memory bounded batch queue."""

from __future__ import annotations

from mlspan.collector.queue.base import QueuedBatch
from mlspan.collector.queue.ledger import Ledger, LedgerQueue


class MemoryQueue(LedgerQueue):
    """Bounded FIFO of batches in memory; lost on restart (see ``DiskQueue``)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(Ledger(capacity))
        self._payloads: dict[int, bytes] = {}

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
