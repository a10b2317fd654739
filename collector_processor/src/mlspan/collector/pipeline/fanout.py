"""Connects one producer to several consumers (a pipeline's exporters, or the pipelines
a receiver feeds)."""

from __future__ import annotations

from collections.abc import Sequence

from mlspan.collector.pdata import QueueFullError, TraceBatch, TracesConsumer


class Fanout:
    """Hands each batch to every consumer.

    Every consumer is offered the batch even when an earlier one is full; if any refused
    it, ``QueueFullError`` is raised afterwards so the sender retries. Delivery is thus
    at least once: consumers that took the batch may see it again (the store writes and
    OTLP backends de-duplicate by span id).
    """

    def __init__(self, consumers: Sequence[TracesConsumer]) -> None:
        self._consumers = tuple(consumers)

    @property
    def consumers(self) -> tuple[TracesConsumer, ...]:
        """The consumers, in order."""
        return self._consumers

    def consume(self, batch: TraceBatch) -> None:
        """Offer ``batch`` to each consumer."""
        refused: QueueFullError | None = None
        for consumer in self._consumers:
            try:
                consumer.consume(batch)
            except QueueFullError as exc:
                refused = exc
        if refused is not None:
            try:
                raise refused
            finally:
                # Without this, this frame (local ``refused``) and the exception's
                # traceback (this frame) form a cycle that keeps every caller's frame,
                # a receiver's gRPC call among them, alive until a full collection.
                refused = None


def fan_out(consumers: Sequence[TracesConsumer]) -> TracesConsumer:
    """The single consumer itself, or a ``Fanout`` over several (or none)."""
    return consumers[0] if len(consumers) == 1 else Fanout(consumers)
