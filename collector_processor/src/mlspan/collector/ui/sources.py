"""Where the pages read from: the lineage queries, the drift engine, the alerts, the
ingest counters, and what the config allows (writes, trace links).

The drift engine and the alerts component are optional parts of a pipeline and start
after the UI's routes are registered, so they are looked up on each request; a page
whose part is not running says so. ``IngestRate`` turns the monotonic ingest counters
into spans per second over the last minute, from samples taken as pages are viewed
(a bounded deque; no thread of its own).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from mlspan.collector.alerts.model import Alert
from mlspan.collector.lineage.queries import LineageQueries
from mlspan.collector.pdata.stats import IngestSnapshot, IngestStats
from mlspan.collector.ui.config import UiConfig

if TYPE_CHECKING:
    from mlspan.collector.drift.engine import DriftEngine

RATE_WINDOW_SECONDS: Final = 60.0
MAX_SAMPLES: Final = 120


class AlertsSource(Protocol):
    """What the alerts component offers the pages."""

    def firing(self) -> list[Alert]: ...

    def history(self, limit: int, model: str | None = None) -> list[Alert]: ...


@dataclass
class IngestRate:
    """Spans received per second over about the last minute of page views."""

    stats: IngestStats
    clock: Callable[[], float] = time.monotonic
    _samples: deque[tuple[float, int]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES), repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sample(self) -> tuple[IngestSnapshot, float | None]:
        """The counters now and the rate since the oldest sample of the window (None
        until two samples at least a second apart exist)."""
        snapshot = self.stats.snapshot()
        now, received = self.clock(), sum(snapshot.spans_received.values())
        with self._lock:
            samples = self._samples
            while samples and now - samples[0][0] > RATE_WINDOW_SECONDS and len(samples) > 1:
                samples.popleft()
            samples.append((now, received))
            first_time, first_count = samples[0]
        elapsed = now - first_time
        return snapshot, ((received - first_count) / elapsed if elapsed >= 1.0 else None)


@dataclass
class UiSources:
    """Everything the pages read, and what the config allows."""

    queries: LineageQueries
    stats: IngestStats
    config: UiConfig = field(default_factory=UiConfig)
    writes_enabled: bool = False
    """Show the flag/tag/note controls (``api.writes.enabled``); the API still checks."""
    drift: Callable[[], DriftEngine | None] = lambda: None
    alerts: Callable[[], AlertsSource | None] = lambda: None
    models: Callable[[], Any] = lambda: None
    """The model registry (``models`` processor), when it runs."""
    experiments: Callable[[], Any] = lambda: None
    """The experiments processor, when it runs."""
    performance: Callable[[], Any] = lambda: None
    """The performance processor (online metrics of model versions), when it runs."""
    rate: IngestRate | None = None

    def __post_init__(self) -> None:
        if self.rate is None:
            self.rate = IngestRate(self.stats)
