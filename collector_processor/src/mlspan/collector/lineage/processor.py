"""The ``lineage`` processor: writes runs, artifacts and edges to the store.

``consume`` turns the batch into records (see ``extract``) in the caller's thread, right
after the receiver parsed it, while the parse is still in the CPU caches (about 2 us per
ML span cheaper than reading it back later in the writer thread), queues the records
(bounded) and hands the batch on, so receivers never wait for SQLite. A writer thread
drains the queue and writes every waiting batch's records in one transaction. When the
queue is full the batch is refused with ``QueueFullError`` (the receiver answers with
OTLP's retryable status and the sender retries; writes are idempotent, so re-delivery is
harmless). A refusal is not a loss, so it is not counted as dropped spans: the receiver
counts the refused request. A batch that cannot be read is logged and counted as
dropped. ``shutdown`` stops accepting, drains what was accepted, and closes a store it
opened itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Final

from mlspan.collector.lineage.extract import extract
from mlspan.collector.pdata import QueueFullError, TraceBatch, TracesConsumer
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.store import LineageBatch, Store, open_store
from mlspan.semconv import OperationName

logger = logging.getLogger(__name__)

DROP_STORE_ERROR: Final = "lineage_store_error"
MAX_BATCHES_PER_WRITE: Final = 16
"""Waiting batches merged into one transaction: enough to amortise the commit, few
enough that an annotation from the API (flag, tag) waits well under a second."""


@dataclass(frozen=True)
class LineageConfig:
    """``processors.lineage``."""

    queue_size: int = 200
    """Batches waiting to be written (each holds its lineage records, about 1 MB for
    512 ML spans); beyond it batches are refused with a retryable error."""
    shutdown_timeout: float = 30.0
    """Seconds ``shutdown`` waits for the queue to drain."""
    stale_after_days: float = 30.0
    """Upstream runs older than this (relative to the run using them) are flagged stale."""
    skip_operations: tuple[str, ...] = ()
    """Operations (``mlspan.operation.name`` values) that are not recorded as runs, e.g.
    ``[predict, predict_proba]`` where per-call predictions are too many to keep."""

    def validate(self) -> None:
        """Check ranges."""
        if self.queue_size < 1:
            raise ConfigError("queue_size must be >= 1")
        if self.shutdown_timeout <= 0:
            raise ConfigError("shutdown_timeout must be > 0")
        if self.stale_after_days <= 0:
            raise ConfigError("stale_after_days must be > 0")
        known = {op.value for op in OperationName}
        for operation in self.skip_operations:
            if operation not in known:
                raise ConfigError(
                    f"skip_operations: unknown operation '{operation}' "
                    f"(known: {', '.join(sorted(known))})"
                )


class _Records:
    """A queued batch: its lineage records and how many spans it had."""

    __slots__ = ("records", "span_count")

    def __init__(self, records: LineageBatch, span_count: int) -> None:
        self.records = records
        self.span_count = span_count


class _Flush:
    """A queue marker: set once everything queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP: Final = object()


class LineageProcessor:
    """Queues batches for the store writer and passes them to the next consumer."""

    def __init__(
        self,
        config: LineageConfig,
        store: Store,
        stats: IngestStats,
        next_consumer: TracesConsumer | None = None,
        *,
        owns_store: bool = False,
    ) -> None:
        self._config = config
        self._store = store
        self._stats = stats
        self._next = next_consumer
        self._owns_store = owns_store
        self._skip = frozenset(config.skip_operations)
        self._queue: queue.Queue[object] = queue.Queue(config.queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def store(self) -> Store:
        """The store written to."""
        return self._store

    def start(self) -> None:
        """Start the writer thread."""
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._run, name="lineage-writer", daemon=True
                )
                self._thread.start()

    def consume(self, batch: TraceBatch) -> None:
        """Extract and queue ``batch``'s records, then hand it on; ``QueueFullError`` when
        full."""
        if self._stopped:
            raise QueueFullError("lineage processor is shut down")
        if self._queue.full():  # refuse before extracting; put_nowait below decides
            raise QueueFullError("lineage queue is full")
        try:
            records = extract(batch, self._skip)
        except Exception:
            logger.exception("lineage could not read a batch of %d spans", batch.span_count)
            self._stats.spans_dropped(DROP_STORE_ERROR, batch.span_count)
        else:
            try:
                self._queue.put_nowait(_Records(records, batch.span_count))
            except queue.Full:
                raise QueueFullError("lineage queue is full") from None
        if self._next is not None:
            self._next.consume(batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every batch accepted so far is written; False on timeout."""
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def shutdown(self) -> None:
        """Stop accepting, write what was accepted, release the store if owned."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        if thread is not None:
            try:
                self._queue.put(_STOP, timeout=self._config.shutdown_timeout)
            except queue.Full:
                logger.error("lineage queue did not drain within the shutdown timeout")
            thread.join(self._config.shutdown_timeout)
        if self._owns_store:
            self._store.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            items = [item]
            while len(items) < MAX_BATCHES_PER_WRITE:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batches = [i for i in items if isinstance(i, _Records)]
            if batches:
                self._write(batches)
            for marker in items:
                if isinstance(marker, _Flush):
                    marker.done.set()
            if any(i is _STOP for i in items):
                return

    def _write(self, batches: list[_Records]) -> None:
        merged = LineageBatch()
        for batch in batches:
            records = batch.records
            merged.runs.extend(records.runs)
            merged.io.extend(records.io)
            merged.names.extend(records.names)
            merged.components.extend(records.components)
        try:
            self._store.write(merged)
        except Exception:
            logger.exception("lineage store write failed")
            self._stats.spans_dropped(DROP_STORE_ERROR, sum(b.span_count for b in batches))


def create_lineage_processor(
    config: LineageConfig, host: Host, next_consumer: TracesConsumer | None
) -> LineageProcessor:
    """Build the processor on the host's store (or one of its own in the data folder).

    When the host has an API router, the lineage query routes are registered on it once.
    """
    store = host.store
    owns = store is None
    if store is None:
        store = open_store(host.data_dir)
    if host.router is not None and not host.extras.get(ROUTES_REGISTERED):
        from mlspan.collector.api.lineage_routes import register_lineage_routes
        from mlspan.collector.lineage.queries import LineageQueries

        register_lineage_routes(host.router, LineageQueries(store, config.stale_after_days))
        host.extras[ROUTES_REGISTERED] = True
    return LineageProcessor(config, store, host.stats, next_consumer, owns_store=owns)


ROUTES_REGISTERED: Final = "lineage_routes_registered"


def lineage_factory() -> Factory[LineageConfig]:
    """The ``lineage`` processor factory."""
    return Factory(Kind.PROCESSOR, "lineage", LineageConfig, create_lineage_processor)
