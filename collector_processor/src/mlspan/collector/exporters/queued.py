"""The queue-and-retry engine shared by exporters.

``QueuedExporter.consume`` only enqueues (bounded, ``QueueFullError`` when full, so the
receiver answers with a retryable status); worker threads take batches and hand them to
a ``Sender``, retrying retryable failures with exponential backoff. A batch leaves the
queue only once it was sent or given up on (counted in ``IngestStats.spans_dropped``
by reason), so an on-disk queue keeps everything still pending across restarts.

With ``max_request_bytes``, a batch larger than that is sent as several requests that
each fit (``split``), each retried on its own; the batch leaves the queue once every
part was sent or given up on. If shutdown interrupts a split batch, the whole batch is
given back (parts already sent go again: backends de-duplicate by span id).

On ``shutdown`` new batches are refused, workers get ``shutdown_timeout`` seconds to
drain the queue, then stop; what is left is counted as dropped (in memory) or stays on
disk for the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Final, Protocol

from mlspan.collector.exporters.retry import Backoff, Outcome, RetryConfig, SendResult
from mlspan.collector.exporters.split import Part, Split, WireFormatError, split_request
from mlspan.collector.pdata import QueueFullError, TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.pipeline.ratelog import RateLimitedLog
from mlspan.collector.queue import BatchQueue, DiskQueue, QueueClosedError, QueuedBatch

logger = logging.getLogger(__name__)

_POLL: Final = 0.2
"""Seconds a worker waits for a batch before checking whether it should stop."""


class Sender(Protocol):
    """Delivers one OTLP protobuf request somewhere."""

    def send(self, raw: bytes, span_count: int, timeout: float) -> SendResult:
        """One attempt; never raises for transport or server errors."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class QueueConfig:
    """``sending_queue``: the bounded queue in front of the sender."""

    queue_size: int = 1000
    """Most export requests (batches) held; beyond it clients get a retryable error."""
    num_consumers: int = 2
    """Worker threads sending in parallel."""
    persistent: bool = False
    """Keep queued batches in files under ``<data_dir>/queues/<exporter id>`` so a
    restart loses nothing that was acknowledged."""
    fsync: bool = True
    """With ``persistent``: flush each batch to stable storage before acknowledging it."""

    def validate(self) -> None:
        """Check sizes."""
        if self.queue_size < 1:
            raise ConfigError("queue_size must be >= 1")
        if not 1 <= self.num_consumers <= 64:
            raise ConfigError("num_consumers must be in [1, 64]")


class QueuedExporter:
    """Bounded queue + worker threads + retry around a ``Sender``."""

    def __init__(
        self,
        name: str,
        queue: BatchQueue,
        sender: Sender,
        stats: IngestStats,
        retry: RetryConfig,
        workers: int = 1,
        timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        max_request_bytes: int | None = None,
    ) -> None:
        self.name = name
        self._max_request_bytes = max_request_bytes
        self._queue = queue
        self._sender = sender
        self._stats = stats
        self._retry = retry
        self._workers = workers
        self._timeout = timeout
        self._shutdown_timeout = shutdown_timeout
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._log = RateLimitedLog(logger)

    @property
    def queue(self) -> BatchQueue:
        """The queue in front of the sender."""
        return self._queue

    def consume(self, batch: TraceBatch) -> None:
        """Enqueue; raises ``QueueFullError`` when full."""
        try:
            self._queue.put(batch.raw, batch.span_count)
        except QueueClosedError as exc:
            raise QueueFullError(f"exporter {self.name} is shutting down") from exc

    def start(self) -> None:
        """Start the worker threads."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            for index in range(self._workers):
                thread = threading.Thread(
                    target=self._run, name=f"export-{self.name}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def shutdown(self) -> None:
        """Refuse new batches, drain for up to ``shutdown_timeout``, stop; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._queue.close()
        self._stopping.set()
        deadline = time.monotonic() + self._shutdown_timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self._abort.set()
            for thread in self._threads:
                thread.join(self._timeout + 1)
        left = self._queue.pending_spans()
        if left and not _is_persistent(self._queue):
            self._stats.spans_dropped("shutdown", left)
            logger.warning("exporter %s: %d spans not sent before shutdown", self.name, left)
        elif left:
            logger.info("exporter %s: %d spans stay queued on disk", self.name, left)
        self._sender.close()

    def _run(self) -> None:
        while not self._abort.is_set():
            batch = self._queue.get(_POLL)
            if batch is None:
                if self._stopping.is_set():
                    return
                continue
            self._deliver(batch)

    def _deliver(self, batch: QueuedBatch) -> None:
        limit = self._max_request_bytes
        split = Split([Part(batch.raw, batch.span_count)])
        if limit is not None and len(batch.raw) > limit:
            try:
                split = split_request(batch.raw, limit)
            except WireFormatError as exc:
                self._give_up(batch.span_count, "export_failed", f"cannot split: {exc}")
                self._queue.ack(batch)
                return
        for part in split.parts:
            if not self._send(part):
                # Shutdown ran past its drain time: give the batch back (it stays on
                # disk if the queue is persistent, else it is counted as dropped).
                self._queue.requeue(batch)
                return
        if split.dropped_spans:
            message = (
                f"{split.dropped_spans} spans of up to {split.largest_dropped} bytes do not "
                f"fit in max_request_bytes ({limit}) even alone"
            )
            self._give_up(split.dropped_spans, "span_too_large", message)
        self._queue.ack(batch)

    def _send(self, part: Part) -> bool:
        """Send one request, retrying as configured; False if shutdown interrupted it."""
        backoff = Backoff(self._retry)
        first = time.monotonic()
        while True:
            try:
                result = self._sender.send(part.raw, part.span_count, self._timeout)
            except Exception as exc:  # a sender bug must not kill the worker
                logger.exception("exporter %s: sender failed", self.name)
                result = SendResult.permanent(f"sender error: {exc}")
            if result.outcome is Outcome.SENT:
                if result.rejected_spans:
                    self._stats.spans_dropped("export_rejected", result.rejected_spans)
                    self._log.warning(
                        "partial",
                        "exporter %s: server rejected %d spans: %s",
                        self.name,
                        result.rejected_spans,
                        result.message,
                    )
                return True
            if result.outcome is Outcome.PERMANENT or not self._retry.enabled:
                self._give_up(part.span_count, "export_failed", result.message)
                return True
            wait = backoff.next_wait(result.retry_after)
            elapsed = time.monotonic() - first
            limit = self._retry.max_elapsed_time
            if limit and elapsed + wait > limit:
                self._give_up(part.span_count, "retries_exhausted", result.message)
                return True
            self._log.warning(
                "retry",
                "exporter %s: retryable failure, retrying in %.1fs: %s",
                self.name,
                wait,
                result.message,
            )
            if self._abort.wait(wait):
                return False

    def _give_up(self, span_count: int, reason: str, message: str) -> None:
        self._stats.spans_dropped(reason, span_count)
        self._log.error(
            reason,
            "exporter %s: dropped %d spans (%s): %s",
            self.name,
            span_count,
            reason,
            message,
        )


def _is_persistent(queue: BatchQueue) -> bool:
    return isinstance(queue, DiskQueue)
