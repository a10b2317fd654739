"""Lineage's own counters and their Prometheus families.

Spans lineage loses are counted with every other lost span in ``IngestStats``
(``mlspan_spans_dropped_total{reason=...}``); what is repaired rather than lost, and the
write-ahead log's state, are counted here and exposed at scrape time by
``LineageMetrics`` (one per collector, shared by every lineage processor).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from mlspan.collector.lineage.sanitize import CLAMP_REASONS


class LineageCounters:
    """Thread-safe totals of clamped values, isolated writes and replayed spans."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clamped: Counter[str] = Counter({reason: 0 for reason in CLAMP_REASONS})
        self._isolated_writes = 0
        self._lost_records = 0
        self._replayed_spans = 0
        self._pending: list[Callable[[], int]] = []

    def add_clamped(self, counts: Mapping[str, int]) -> None:
        """Values clamped on receipt, by reason."""
        if counts:
            with self._lock:
                self._clamped.update(counts)

    def add_isolated_write(self) -> None:
        """A batch the store refused as a whole, rewritten record by record."""
        with self._lock:
            self._isolated_writes += 1

    def add_lost_records(self, count: int) -> None:
        """Artifact names, components or edges without a run that the store refused."""
        with self._lock:
            self._lost_records += count

    def add_replayed(self, spans: int) -> None:
        """Spans read back from the write-ahead log at start-up."""
        with self._lock:
            self._replayed_spans += spans

    def watch_pending(self, pending_bytes: Callable[[], int]) -> None:
        """Report a write-ahead log's undone bytes in the pending gauge."""
        with self._lock:
            self._pending.append(pending_bytes)

    @property
    def clamped(self) -> dict[str, int]:
        """Clamped values so far, by reason."""
        with self._lock:
            return dict(self._clamped)

    @property
    def isolated_writes(self) -> int:
        """Batches rewritten record by record so far."""
        with self._lock:
            return self._isolated_writes

    @property
    def lost_records(self) -> int:
        """Records other than runs the store refused so far."""
        with self._lock:
            return self._lost_records

    @property
    def replayed_spans(self) -> int:
        """Spans replayed from the write-ahead log so far."""
        with self._lock:
            return self._replayed_spans

    def pending_bytes(self) -> int:
        """Undone bytes of every watched write-ahead log."""
        with self._lock:
            sources = list(self._pending)
        return sum(source() for source in sources)


class LineageMetrics:
    """A Prometheus collector over ``LineageCounters``, computed at scrape time."""

    def __init__(self, counters: LineageCounters) -> None:
        self._counters = counters

    def describe(self) -> list[Metric]:
        """The families, without samples."""
        return list(self._families(empty=True))

    def collect(self) -> Iterator[Metric]:
        """The families with current values."""
        yield from self._families(empty=False)

    def _families(self, empty: bool) -> Iterator[Metric]:
        counters = self._counters
        clamped = CounterMetricFamily(
            "mlspan_lineage_values_clamped",
            "Span values lineage repaired on receipt (timestamps, parameters, oversized or "
            "wrongly typed attributes), by reason",
            labels=["reason"],
        )
        isolated = CounterMetricFamily(
            "mlspan_lineage_isolated_writes",
            "Lineage batches the store refused as a whole and that were rewritten record by record",
        )
        lost = CounterMetricFamily(
            "mlspan_lineage_records_lost",
            "Lineage records other than runs (artifact names, components) the store refused",
        )
        replayed = CounterMetricFamily(
            "mlspan_lineage_wal_replayed_spans",
            "Spans replayed from the lineage write-ahead log at start-up",
        )
        pending = GaugeMetricFamily(
            "mlspan_lineage_wal_pending_bytes",
            "Bytes of acknowledged requests in the lineage write-ahead log whose lineage is "
            "not committed yet",
        )
        if not empty:
            for reason, total in sorted(counters.clamped.items()):
                clamped.add_metric([reason], total)
            isolated.add_metric([], counters.isolated_writes)
            lost.add_metric([], counters.lost_records)
            replayed.add_metric([], counters.replayed_spans)
            pending.add_metric([], counters.pending_bytes())
        yield from (clamped, isolated, lost, replayed, pending)
