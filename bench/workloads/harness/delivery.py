"""The delivery round: every span a program created must reach the collector.

The program runs once more under ``opentelemetry-instrument`` through
``count_spans.py``, which records every span each of its processes ended (joblib
workers included). Then the runner compares, once the collector has settled:

* spans created vs. the growth of ``mlspan_spans_received_total`` (the program is the
  only sender while it runs, so the growth is what arrived from it);
* the ML spans created (those the lineage stores as runs) vs. the runs the query API
  lists for the program's service since the round started, by run id (span id);
* requests the collector rejected and spans it dropped meanwhile, by reason.
"""

from __future__ import annotations

import time
import urllib.error
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.collector import CollectorProcess, IngestCounters, api_error, reference_path

SETTLE_TIMEOUT_S = 90.0
"""Longest wait for the counts to agree after the program exited."""
STABLE_S = 8.0
"""Counts unchanged this long: nothing more is coming."""
PAGE = 1000


@dataclass
class SpanCounts:
    """What the counting launcher recorded: all spans, and the ML spans' ids."""

    spans: int = 0
    ml_span_ids: set[str] = field(default_factory=set)
    processes: int = 0


def read_counts(folder: Path) -> SpanCounts:
    """Sum the ``<pid>.spans`` files (``<trace id> <span id> <0|1>`` per line)."""
    counts = SpanCounts()
    for path in sorted(folder.glob("*.spans")):
        counts.processes += 1
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            counts.spans += 1
            if parts[2] == "1":
                counts.ml_span_ids.add(parts[1])
    return counts


def service_runs(collector: CollectorProcess, service: str, since_ns: int) -> dict[str, Any]:
    """Runs of ``service`` that started at or after ``since_ns``, by run id (newest first)."""
    found: dict[str, Any] = {}
    cursor = ""
    while True:
        after = f"&cursor={reference_path(cursor)}" if cursor else ""
        page = collector.get(f"/api/v1/runs?limit={PAGE}{after}")
        older = False
        for run in page["runs"]:
            if run["start_ns"] < since_ns:
                older = True
                break
            if run["service"] == service:
                found[run["run_id"]] = run
        cursor = page.get("next_cursor") or ""
        if older or not cursor:
            return found


@dataclass
class Delivery:
    """The delivery round's figures for one program."""

    spans_created: int = 0
    spans_received: int = 0
    ml_spans: int = 0
    runs_stored: int = 0
    runs_missing: int = 0
    runs_unexpected: int = 0
    processes: int = 0
    requests_rejected: dict[str, float] = field(default_factory=dict)
    spans_dropped: dict[str, float] = field(default_factory=dict)
    settle_s: float = 0.0
    error: str = ""

    @property
    def complete(self) -> bool:
        """Every span created arrived (no more, no fewer) and every ML span is a stored run."""
        return (
            not self.error
            and self.spans_received == self.spans_created
            and self.runs_missing == 0
            and self.runs_unexpected == 0
        )

    def problems(self) -> list[str]:
        found = []
        if self.error:
            found.append(f"delivery check failed: {self.error}")
        if self.spans_received != self.spans_created:
            found.append(
                f"{self.spans_created} spans created, "
                f"{self.spans_received} received by the collector"
            )
        if self.runs_missing:
            found.append(f"{self.runs_missing} of {self.ml_spans} ML spans missing from the runs")
        if self.runs_unexpected:
            found.append(f"{self.runs_unexpected} stored runs that no counted process created")
        return found

    def notes(self) -> list[str]:
        """What the collector refused or dropped meanwhile (a refusal is retried, not lost)."""
        found = []
        if self.requests_rejected:
            found.append(f"requests rejected, by reason: {self.requests_rejected}")
        if self.spans_dropped:
            found.append(f"spans dropped by the collector, by reason: {self.spans_dropped}")
        return found

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"complete": self.complete, "notes": self.notes()}


def settle(
    collector: CollectorProcess,
    service: str,
    counts_folder: Path,
    before: IngestCounters,
    since_ns: int,
) -> tuple[Delivery, dict[str, Any]]:
    """Compare created and received once they agree or stop changing; and the runs stored."""
    start = time.monotonic()
    last: tuple[int, ...] = ()
    changed = start
    delivery = Delivery()
    runs: dict[str, Any] = {}
    while True:
        counts = read_counts(counts_folder)
        try:
            grown = collector.metrics().since(before)
            runs = service_runs(collector, service, since_ns)
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            delivery.error = api_error(exc)
            return delivery, runs
        stored = set(runs)
        delivery = Delivery(
            spans_created=counts.spans,
            spans_received=int(grown.spans_received),
            ml_spans=len(counts.ml_span_ids),
            runs_stored=len(stored),
            runs_missing=len(counts.ml_span_ids - stored),
            runs_unexpected=len(stored - counts.ml_span_ids),
            processes=counts.processes,
            requests_rejected=grown.requests_rejected,
            spans_dropped=grown.spans_dropped,
            settle_s=round(time.monotonic() - start, 1),
        )
        if delivery.complete:
            return delivery, runs
        now = time.monotonic()
        state = (counts.spans, delivery.spans_received, delivery.runs_stored)
        if state != last:
            last, changed = state, now
        if now - changed >= STABLE_S or now - start >= SETTLE_TIMEOUT_S:
            return delivery, runs
        time.sleep(0.5)
