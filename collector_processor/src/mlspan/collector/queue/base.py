"""The queue protocol shared by the in-memory and on-disk queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class QueueClosedError(RuntimeError):
    """The queue was closed; no more batches are accepted."""


@dataclass(frozen=True)
class QueuedBatch:
    """One queued export request: the OTLP protobuf bytes and how many spans they hold."""

    raw: bytes
    span_count: int
    key: int = 0
    """Queue-specific identity used by ``ack`` (a sequence number)."""


class BatchQueue(Protocol):
    """A bounded FIFO of batches with explicit acknowledgement.

    ``get`` hands a batch to a worker; the worker calls ``ack`` once the batch is done
    (sent, or given up on) or ``requeue`` to give it back unsent, e.g. at shutdown.
    """

    @property
    def capacity(self) -> int:
        """Most batches held at once (queued plus handed out and not acknowledged)."""

    def put(self, raw: bytes, span_count: int) -> None:
        """Enqueue; raises ``QueueFullError`` at capacity, ``QueueClosedError`` if closed."""

    def get(self, timeout: float) -> QueuedBatch | None:
        """The oldest batch, or None after ``timeout`` seconds or once closed and empty."""

    def ack(self, batch: QueuedBatch) -> None:
        """Forget a batch for good."""

    def requeue(self, batch: QueuedBatch) -> None:
        """Put a handed-out batch back at the front."""

    def close(self) -> None:
        """Refuse further ``put`` calls and wake waiting ``get`` calls."""

    def __len__(self) -> int:
        """Batches held, including handed-out ones not yet acknowledged."""

    def pending_spans(self) -> int:
        """Spans held, including handed-out ones not yet acknowledged."""
