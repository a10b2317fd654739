"""Bounded batch queues between a component's ``consume`` and its worker threads.

``MemoryQueue`` keeps batches in memory; ``DiskQueue`` writes each batch to its own file
before ``put`` returns, so a batch acknowledged to a client survives a restart. Both
refuse new batches with ``QueueFullError`` at capacity.
"""

from __future__ import annotations

from mlspan.collector.queue.base import BatchQueue, QueueClosedError, QueuedBatch
from mlspan.collector.queue.disk import DiskQueue
from mlspan.collector.queue.memory import MemoryQueue

__all__ = ["BatchQueue", "DiskQueue", "MemoryQueue", "QueueClosedError", "QueuedBatch"]
