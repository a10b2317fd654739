"""Thread-safe ingest counters shared by receivers, queues and the metrics endpoint.

Receivers count accepted spans and rejected requests, bounded queues count what they
drop, and the Prometheus collector reads a consistent snapshot at scrape time.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IngestSnapshot:
    """A point-in-time copy of every counter."""

    spans_received: dict[str, int]
    spans_dropped: dict[str, int]
    requests_rejected: dict[tuple[str, str], int]


@dataclass
class IngestStats:
    """Counters of spans received (by receiver), dropped (by reason) and rejected requests."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _received: Counter[str] = field(default_factory=Counter)
    _dropped: Counter[str] = field(default_factory=Counter)
    _rejected: Counter[tuple[str, str]] = field(default_factory=Counter)

    def spans_received(self, receiver: str, count: int) -> None:
        """Count spans a receiver accepted."""
        with self._lock:
            self._received[receiver] += count

    def spans_dropped(self, reason: str, count: int) -> None:
        """Count spans lost after acceptance or refused, e.g. ``queue_full``, ``export_failed``."""
        with self._lock:
            self._dropped[reason] += count

    def request_rejected(self, receiver: str, reason: str) -> None:
        """Count a rejected request, e.g. ``malformed``, ``too_large``, ``unsupported_media``."""
        with self._lock:
            self._rejected[(receiver, reason)] += 1

    def snapshot(self) -> IngestSnapshot:
        """A consistent copy of every counter."""
        with self._lock:
            return IngestSnapshot(dict(self._received), dict(self._dropped), dict(self._rejected))
