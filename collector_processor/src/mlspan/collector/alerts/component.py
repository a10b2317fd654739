"""The alerting component: rules over drift, validation, performance and ingest, with
notifications.

It listens to the drift engine (``ResultsListener``), the performance processor
(``on_performance``) and the experiments processor (``on_experiment``), evaluates the
ingest rules every ``evaluation_interval_seconds`` from the shared ``IngestStats``, keeps
firing/resolved transitions in a history under the data folder, notifies webhooks, serves
``GET /api/v1/alerts`` and reports its state to the Prometheus exporter
(``AlertStatusSource``). In a traces pipeline it passes batches on unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from mlspan.collector.alerts.config import AlertsConfig
from mlspan.collector.alerts.experiment_rules import experiment_candidates
from mlspan.collector.alerts.history import AlertHistory, SqliteAlertHistory
from mlspan.collector.alerts.model import Alert
from mlspan.collector.alerts.performance_rules import performance_candidates
from mlspan.collector.alerts.routes import register_alert_routes
from mlspan.collector.alerts.rules import drift_candidates, ingest_candidates
from mlspan.collector.alerts.tracker import (
    INGEST_SCOPE,
    AlertTracker,
    experiment_scope,
    model_scope,
    performance_scope,
)
from mlspan.collector.alerts.webhook import WebhookNotifier
from mlspan.collector.drift.results import DatasetDrift, ValidationResult
from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.performance.results import VersionResult
from mlspan.collector.pipeline.factory import Host

if TYPE_CHECKING:
    from mlspan.collector.experiments.results import ExperimentResult

logger = logging.getLogger(__name__)

DRIFT_ENGINE_KEY: Final = "drift_engine"
"""Where the drift engine is published in ``Host.extras``."""
ALERTS_KEY: Final = "alerts"
"""Where this component publishes itself in ``Host.extras`` for the exporter."""


class AlertingComponent:
    """Turns results into alerts; see the module docstring."""

    def __init__(
        self,
        config: AlertsConfig,
        host: Host,
        next_consumer: TracesConsumer | None = None,
        history: AlertHistory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._host = host
        self._next = next_consumer
        self._clock = clock
        self._history = history
        self._notifier = WebhookNotifier(config.webhooks)
        self._tracker: AlertTracker | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_drops: tuple[float, dict[str, int]] | None = None
        self._started = False
        host.extras[ALERTS_KEY] = self

    def start(self) -> None:
        """Open the history, restore firing alerts, start workers, subscribe and serve."""
        with self._lock:
            if self._started:
                return
            self._started = True
        history = self._history or SqliteAlertHistory(
            self._host.data_dir / self._config.history_file, self._config.history_limit
        )
        self._history = history
        tracker = AlertTracker(self._config.rules, history, self._notifier.notify, self._clock)
        self._notifier.start()
        tracker.restore()
        self._tracker = tracker
        self._last_drops = (self._clock(), self._host.stats.snapshot().spans_dropped)
        engine = self._host.extras.get(DRIFT_ENGINE_KEY)
        if engine is not None:
            engine.add_listener(self)
        else:
            logger.info("alerts: no drift engine configured; only ingest rules apply")
        if self._host.router is not None:
            register_alert_routes(self._host.router, self.firing, self.history)
        self._thread = threading.Thread(target=self._evaluate_loop, name="alerts", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop evaluating, deliver queued notifications (bounded), close the history."""
        with self._lock:
            if not self._started or self._stop.is_set():
                self._stop.set()
                return
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._notifier.shutdown()
        if self._history is not None:
            self._history.close()

    def consume(self, batch: TraceBatch) -> None:
        """Pass the batch on unchanged: alerts come from results, not from spans."""
        if self._next is not None:
            self._next.consume(batch)

    def on_results(self, drift: DatasetDrift, validation: Sequence[ValidationResult]) -> None:
        """Evaluate the drift and validation rules for ``drift``'s model."""
        tracker = self._tracker
        if tracker is None or self._stop.is_set():
            logger.debug("alerts: not running; result of %s not evaluated", drift.key)
            return
        try:
            candidates = drift_candidates(self._config.rules, drift, validation)
            tracker.update(model_scope(drift.key), candidates)
        except Exception:
            logger.exception("alerts: evaluating drift results of %s failed", drift.key)

    def on_performance(self, result: VersionResult) -> None:
        """Evaluate the performance rules for one model version's merged result."""
        tracker = self._tracker
        if tracker is None or self._stop.is_set():
            return
        try:
            candidates = performance_candidates(self._config.rules, result)
            key = result.key
            tracker.update(performance_scope(key.service, key.model, key.version), candidates)
        except Exception:
            logger.exception("alerts: evaluating performance of %s failed", result.key)

    def on_experiment(self, result: ExperimentResult) -> None:
        """Evaluate the experiment rules for one experiment's results."""
        tracker = self._tracker
        if tracker is None or self._stop.is_set():
            return
        try:
            candidates = experiment_candidates(self._config.rules, result)
            tracker.update(experiment_scope(result.name), candidates)
        except Exception:
            logger.exception("alerts: evaluating experiment %s failed", result.name)

    def evaluate_ingest(self) -> list[Alert]:
        """Evaluate the ingest rules on drop rates since the previous evaluation."""
        tracker = self._tracker
        if tracker is None or self._last_drops is None:
            return []
        now = self._clock()
        dropped = self._host.stats.snapshot().spans_dropped
        then, before = self._last_drops
        self._last_drops = (now, dropped)
        elapsed = max(now - then, 1e-9)
        rates = {r: (n - before.get(r, 0)) / elapsed for r, n in dropped.items()}
        return tracker.update(INGEST_SCOPE, ingest_candidates(self._config.rules, rates))

    def firing(self) -> list[Alert]:
        """Alert instances firing now."""
        return self._tracker.firing() if self._tracker else []

    def history(self, limit: int, model: str | None = None) -> list[Alert]:
        """The ``limit`` most recent episodes (of ``model`` only, if given)."""
        return self._history.recent(limit, model) if self._history and self._tracker else []

    def firing_counts(self) -> dict[tuple[str, str], int]:
        """Firing instances by (rule, severity), for ``mlspan_alerts_firing``."""
        if self._tracker is None:
            return {(r.name, r.severity): 0 for r in self._config.rules}
        return self._tracker.firing_counts()

    def notification_failures(self) -> dict[str, int]:
        """Failed notifications by receiver, for ``mlspan_alert_notifications_failed_total``."""
        return self._notifier.failures()

    def _evaluate_loop(self) -> None:
        while not self._stop.wait(self._config.evaluation_interval_seconds):
            try:
                self.evaluate_ingest()
            except Exception:
                logger.exception("alerts: ingest evaluation failed")
