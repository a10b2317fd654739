"""The ``lineage`` processor: writes runs, artifacts and edges to the store.

``consume`` turns the batch into records (see ``extract``) in the caller's thread, right
after the receiver parsed it, while the parse is still in the CPU caches (about 2 us per
ML span cheaper than reading it back later in the writer thread), appends the request to
the write-ahead log (see ``wal``; batches without lineage records skip it), queues the
records (bounded) and hands the batch on, so receivers never wait for SQLite. Since
``consume`` returns only after the append, everything a receiver acknowledged is either
committed or in the log, and a collector killed at any moment replays the log at the next
start before it accepts anything: ``kill -9`` loses no acknowledged lineage (see
docs/lineage.md, "Delivery promise"). A writer thread drains the queue and writes every
waiting batch's records in one transaction; when that fails, ``IsolatingWriter`` narrows
it down so only the records the store refuses are lost, counted. When the queue or the
log is full the batch is refused with ``QueueFullError`` (the receiver answers with
OTLP's retryable status and the sender retries; writes are idempotent, so re-delivery is
harmless). A refusal is not a loss, so it is not counted as dropped spans: the receiver
counts the refused request. Values are clamped on receipt and a span that cannot be read
is counted as dropped (``lineage_invalid_span``) without its neighbours. ``shutdown``
stops accepting, drains what was accepted, and closes the log and a store it opened
itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Final

from mlspan.collector.lineage.counters import LineageCounters, LineageMetrics
from mlspan.collector.lineage.extract import extract
from mlspan.collector.lineage.wal import Ticket, WriteAheadLog
from mlspan.collector.lineage.writer import (
    DROP_STORE_ERROR,
    MAX_BATCHES_PER_WRITE,
    IsolatingWriter,
)
from mlspan.collector.pdata import FastSchema, QueueFullError, TraceBatch, TracesConsumer
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.pipeline.ratelog import RateLimitedLog
from mlspan.collector.store import LineageBatch, Store, StoreUnavailableError, open_store
from mlspan.semconv import OperationName

logger = logging.getLogger(__name__)

DROP_INVALID_SPAN: Final = "lineage_invalid_span"
"""An ML span extraction could not read at all (its batch's other spans are kept)."""
WAL_FOLDER: Final = "lineage-wal"
"""The write-ahead log's folder in the data folder (a second lineage processor of the
same collector gets ``lineage-wal-2`` and so on, in pipeline order)."""
MIB: Final = 1024 * 1024
RETRY_INITIAL_S: Final = 0.1
RETRY_MAX_S: Final = 5.0
"""Backoff bounds while the store is unavailable."""


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
    wal: bool = True
    """Append every request with lineage records to a write-ahead log in the data folder
    before acknowledging it, and replay the log at start-up: a killed collector loses no
    acknowledged lineage. Off: lineage waiting in the queue (up to ``queue_size``
    batches) is lost when the process dies."""
    wal_fsync: bool = False
    """Also ``fsync`` each append (survives power loss and kernel crashes, not only the
    process being killed; costs a disk flush per request)."""
    wal_max_mb: float = 256.0
    """Bytes of acknowledged requests whose lineage is not yet committed, at most; beyond
    it requests are refused with a retryable error."""
    wal_segment_mb: float = 64.0
    """Size at which the log starts a new file (older files are deleted once their
    lineage is committed)."""

    def validate(self) -> None:
        """Check ranges."""
        if self.queue_size < 1:
            raise ConfigError("queue_size must be >= 1")
        if self.wal_max_mb <= 0 or self.wal_segment_mb <= 0:
            raise ConfigError("wal_max_mb and wal_segment_mb must be > 0")
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
    """A queued batch: its lineage records and its write-ahead log entry."""

    __slots__ = ("records", "ticket")

    def __init__(self, records: LineageBatch, ticket: Ticket | None) -> None:
        self.records = records
        self.ticket = ticket


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
        wal: WriteAheadLog | None = None,
        counters: LineageCounters | None = None,
        schema: FastSchema | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._stats = stats
        self._next = next_consumer
        self._owns_store = owns_store
        self._wal = wal
        self._counters = counters or LineageCounters()
        self._writer = IsolatingWriter(store, stats, self._counters)
        self._schema = schema
        self._skip = frozenset(config.skip_operations)
        self._queue: queue.Queue[object] = queue.Queue(config.queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._stopping = threading.Event()
        """Set at shutdown: an unavailable store is no longer waited for."""
        self._log = RateLimitedLog(logger)

    @property
    def store(self) -> Store:
        """The store written to."""
        return self._store

    @property
    def counters(self) -> LineageCounters:
        """Clamped values, isolated writes and replayed spans."""
        return self._counters

    def start(self) -> None:
        """Replay what the write-ahead log holds from before, then start the writer
        thread."""
        with self._lock:
            if self._thread is None and not self._stopped:
                if self._wal is not None and self._wal.recovered_segments:
                    self._replay(self._wal)
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
            self._stats.spans_dropped(DROP_INVALID_SPAN, batch.span_count)
        else:
            if records:
                ticket = self._wal.append(batch.raw) if self._wal is not None else None
                try:
                    self._queue.put_nowait(_Records(records, ticket))
                except queue.Full:
                    if ticket is not None and self._wal is not None:
                        self._wal.done(ticket)
                    raise QueueFullError("lineage queue is full") from None
            self._counters.add_clamped(records.clamped)
            if records.invalid_spans:
                self._stats.spans_dropped(DROP_INVALID_SPAN, records.invalid_spans)
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
        self._stopping.set()
        if thread is not None:
            try:
                self._queue.put(_STOP, timeout=self._config.shutdown_timeout)
            except queue.Full:
                logger.error("lineage queue did not drain within the shutdown timeout")
            thread.join(self._config.shutdown_timeout)
        if self._wal is not None:
            self._wal.close()
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
        """Write the batches; while the store is unavailable, retry with backoff (the
        queue fills meanwhile and receivers answer with the retryable status). At
        shutdown an unavailable store is given up on: the entries stay in the log for
        the next start (without a log, the spans are counted as dropped)."""
        records = [batch.records for batch in batches]
        delay = RETRY_INITIAL_S
        while True:
            try:
                self._writer.write(records)
                break
            except StoreUnavailableError as exc:
                if self._stopping.is_set():
                    self._give_up(batches, exc)
                    return
                self._log.warning(
                    "store_unavailable", "lineage store unavailable, retrying: %s", exc
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        wal = self._wal
        if wal is not None:
            for batch in batches:
                if batch.ticket is not None:
                    wal.done(batch.ticket)

    def _give_up(self, batches: list[_Records], exc: Exception) -> None:
        spans = sum(len(batch.records.runs) for batch in batches)
        if self._wal is not None:
            logger.error(
                "lineage store unavailable at shutdown (%s): %d runs stay in the write-ahead "
                "log for the next start",
                exc,
                spans,
            )
        else:
            logger.error("lineage store unavailable at shutdown (%s): %d runs lost", exc, spans)
            self._stats.spans_dropped(DROP_STORE_ERROR, spans)

    def _replay(self, wal: WriteAheadLog) -> None:
        """Write the lineage of every request the log kept from a previous process, then
        forget those entries."""
        schema = self._schema or FastSchema.build()
        pending: list[LineageBatch] = []
        requests = spans = 0
        for payload in wal.recovered():
            try:
                batch = TraceBatch.from_bytes(schema, payload)
                records = extract(batch, self._skip)
            except Exception:
                logger.exception("lineage write-ahead log: an entry could not be read")
                continue
            requests += 1
            spans += batch.span_count
            pending.append(records)
            if len(pending) >= MAX_BATCHES_PER_WRITE:
                self._writer.write(pending)
                pending = []
        if pending:
            self._writer.write(pending)
        wal.discard_recovered()
        self._counters.add_replayed(spans)
        logger.info(
            "lineage write-ahead log: replayed %d requests (%d spans) left by the previous run",
            requests,
            spans,
        )


def create_lineage_processor(
    config: LineageConfig, host: Host, next_consumer: TracesConsumer | None
) -> LineageProcessor:
    """Build the processor on the host's store (or one of its own in the data folder).

    When the host has an API router, the lineage query routes are registered on it once;
    when it has a Prometheus registry, lineage's counters are registered on it once.
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
    counters = host.extras.get(COUNTERS_KEY)
    if not isinstance(counters, LineageCounters):
        counters = LineageCounters()
        host.extras[COUNTERS_KEY] = counters
        if host.registry is not None:
            host.registry.register(LineageMetrics(counters))
    wal = None
    if config.wal:
        logs = int(host.extras.get(WAL_COUNT_KEY, 0)) + 1
        host.extras[WAL_COUNT_KEY] = logs
        folder = WAL_FOLDER if logs == 1 else f"{WAL_FOLDER}-{logs}"
        wal = WriteAheadLog(
            host.data_dir / folder,
            max_bytes=int(config.wal_max_mb * MIB),
            segment_bytes=int(config.wal_segment_mb * MIB),
            fsync=config.wal_fsync,
        )
        counters.watch_pending(wal.pending_bytes)
    from mlspan.collector.service.service import FAST_SCHEMA_KEY

    schema = host.extras.get(FAST_SCHEMA_KEY)
    return LineageProcessor(
        config,
        store,
        host.stats,
        next_consumer,
        owns_store=owns,
        wal=wal,
        counters=counters,
        schema=schema if isinstance(schema, FastSchema) else None,
    )


ROUTES_REGISTERED: Final = "lineage_routes_registered"
COUNTERS_KEY: Final = "lineage_counters"
WAL_COUNT_KEY: Final = "lineage_wal_count"


def lineage_factory() -> Factory[LineageConfig]:
    """The ``lineage`` processor factory."""
    return Factory(Kind.PROCESSOR, "lineage", LineageConfig, create_lineage_processor)
