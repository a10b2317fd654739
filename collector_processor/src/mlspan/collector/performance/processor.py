"""The ``performance`` processor: performance spans in, merged windows and metrics out.

Created from the ``processors.performance`` config section. Each batch is scanned for
performance spans (``extract``), their summaries merged into the windows of
``PerformanceState`` and saved to ``performance.sqlite`` in the data folder; the model
versions a batch touched are then handed to the alerting component, if one runs. The
processor publishes itself as ``host.extras["performance"]`` and registers its query
routes and Prometheus families. Batches pass on unchanged; nothing here raises into
ingest: a malformed span is counted and skipped, any other failure is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from mlspan.collector.pdata import TraceBatch, TracesConsumer
from mlspan.collector.performance.concept_tracking import ConceptTracking
from mlspan.collector.performance.config import PerformanceConfig
from mlspan.collector.performance.estimated import reference_for, with_traced
from mlspan.collector.performance.extract import (
    ModelKey,
    TracedScores,
    ValidationScore,
    extract,
)
from mlspan.collector.performance.results import VersionResult, version_result
from mlspan.collector.performance.state import PerformanceState, Window
from mlspan.collector.performance.store import PerformanceStore
from mlspan.collector.pipeline.factory import Factory, Host, Kind
from mlspan.semconv.values import OperationName
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_predicted import PredictedScores

logger = logging.getLogger(__name__)

PERFORMANCE_KEY: Final = "performance"
"""``host.extras`` key of the processor."""
ALERTS_KEY: Final = "alerts"
STORE_FILE: Final = "performance.sqlite"

WindowListener = Callable[[ModelKey, Sequence[Window]], None]
"""Called with a model version and its windows after a batch changed them."""


class PerformanceProcessor:
    """See the module docstring."""

    def __init__(
        self,
        config: PerformanceConfig,
        host: Host,
        next_consumer: TracesConsumer | None,
        store: PerformanceStore | None,
    ) -> None:
        self.config = config
        self.state = PerformanceState(config.max_models, config.max_windows_per_model)
        self._host = host
        self._next = next_consumer
        self._store = store
        self._lock = threading.Lock()
        self._window_listeners: list[WindowListener] = []
        self.concepts = ConceptTracking()
        """A concept-drift detector per accepted model version, fed span by span."""
        self._cache: dict[ModelKey, tuple[int, VersionResult | None]] = {}
        """Results by version and the state generation they were computed at: a scrape
        or query recomputes only the versions that changed since."""

    def start(self) -> None:
        """Restore the stored windows and validation scores."""
        if self._store is None:
            return
        for key, window in self._store.load_windows():
            self.state.put(key, window)
        for key, score in self._store.load_validation():
            self.state.set_validation(ValidationScore(key, score))
        for key, summary in self._store.load_evaluated():
            self.state.put_evaluated(key, summary)
        for key, start, end, scores in self._store.load_traced():
            self.state.put_traced(key, start, end, scores)
        held = set(self.state.model_keys())
        for key, text in self._store.load_concepts():
            if key not in held:
                continue
            try:
                self.concepts.restore(key, text)
            except ValueError:
                logger.warning("performance store: a damaged detector of %s skipped", key)

    def shutdown(self) -> None:
        """Close the store (idempotent)."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def consume(self, batch: TraceBatch) -> None:
        """Merge the batch's performance summaries, then pass it on."""
        try:
            self._process(batch)
        except Exception:
            logger.exception("performance: processing a batch failed")
        if self._next is not None:
            self._next.consume(batch)

    def _process(self, batch: TraceBatch) -> None:
        bad: list[str] = []
        changed: list[tuple[ModelKey, Window]] = []
        touched: set[ModelKey] = set()
        evictions: list[tuple[ModelKey, float]] = []
        evaluated: dict[ModelKey, PerformanceSummary] = {}
        traced: dict[tuple[ModelKey, float], tuple[float, PredictedScores]] = {}
        for item in extract(batch, self.config.max_window_seconds, bad):
            if isinstance(item, TracedScores):
                merged = self.state.add_traced(item)
                if merged is not None:  # estimates only: no alert rule reads them
                    traced[(item.key, item.start)] = merged
                continue
            if isinstance(item, ValidationScore):
                if self.state.set_validation(item):
                    touched.add(item.key)
                    with self._lock:
                        if self._store is not None:
                            self._store.save_validation(item.key, item.score)
                continue
            window, evicted = self.state.add(item)
            if window is None:
                continue
            changed.append((item.key, window))
            if item.operation == OperationName.EVALUATE.value:
                outcomes = self.state.add_evaluated(item.key, item.summary)
                if outcomes is not None:
                    evaluated[item.key] = outcomes
            try:
                if item.summary.count:  # predictions spans carry no labelled row
                    self.concepts.feed(item.key, item.start, item.summary)
            except Exception:
                logger.exception("performance: concept-drift detection failed for %s", item.key)
            touched.add(item.key)
            evictions += [(item.key, start) for start in evicted]
        if bad:
            self.state.refuse("decode", len(bad))
            logger.warning("performance: %d span(s) refused, first: %s", len(bad), bad[0])
        with self._lock:
            if self._store is not None:
                # evictions after the saves: a window may be added and evicted in one batch
                self._store.save_windows(changed)
                for key, outcomes in evaluated.items():
                    self._store.save_evaluated(key, outcomes)
                if traced:
                    oldest = {key: self.state.traced(key)[0][0] for key, _ in traced}
                    self._store.save_traced(
                        [
                            (key, start, end, scores)
                            for (key, start), (end, scores) in traced.items()
                        ],
                        oldest,
                    )
                states = [(key, self.concepts.state_json(key)) for key in touched]
                self._store.save_concepts((k, text) for k, text in states if text is not None)
                for key, start in evictions:
                    if all(w.start != start for w in self.state.windows(key)):
                        self._store.delete_window(key, start)
        if touched:
            self._notify(sorted(touched, key=lambda k: (k.service, k.model, k.version)))

    def add_window_listener(self, listener: WindowListener) -> None:
        """Call ``listener(key, windows)`` after every batch that changed ``key``'s
        windows, with all its windows by start time: the per-window error streams
        (confusion counts, regression sums) and probability sketches that concept-drift
        detection and estimated performance work on. A failing listener is logged."""
        self._window_listeners.append(listener)

    def _notify(self, keys: list[ModelKey]) -> None:
        for listener in self._window_listeners:
            for key in keys:
                try:
                    listener(key, self.state.windows(key))
                except Exception:
                    logger.exception("performance: a window listener failed for %s", key)
        alerts = self._host.extras.get(ALERTS_KEY)
        on_performance = getattr(alerts, "on_performance", None)
        if on_performance is None:
            return
        for key in keys:
            result = self.result(key)
            if result is not None:
                on_performance(result)

    def result(self, key: ModelKey) -> VersionResult | None:
        """The metrics of one model version over all its windows."""
        generation = self.state.generation(key)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == generation:
            result = cached[1]
        else:
            windows = self.state.windows(key)
            traced = self.state.traced(key)
            if traced and all(w.summary.predicted is None for w in windows):
                windows = with_traced(windows, traced)
            reference = reference_for(
                self.state.evaluated(key), windows, self.config.reference_rows
            )
            result = version_result(key, windows, self.state.validation(key), reference)
            self._cache[key] = (generation, result)
        concept = self.concepts.status(key)
        if result is None or concept is None:
            return result
        return replace(result, concept=concept)

    def results(
        self, service: str | None = None, model: str | None = None, version: str | None = None
    ) -> list[VersionResult]:
        """The metrics of every held version matching the filters."""
        found: list[VersionResult] = []
        for key in self.state.model_keys():
            if service and key.service != service:
                continue
            if model and key.model != model:
                continue
            if version and key.version != version:
                continue
            result = self.result(key)
            if result is not None:
                found.append(result)
        return found


def create_performance_processor(
    config: PerformanceConfig, host: Host, next_consumer: TracesConsumer | None
) -> PerformanceProcessor:
    """Build the processor with its store, publish it and register routes and metrics."""
    store = PerformanceStore(host.data_dir / STORE_FILE) if config.persist else None
    processor = PerformanceProcessor(config, host, next_consumer, store)
    host.extras[PERFORMANCE_KEY] = processor
    if host.router is not None:
        from mlspan.collector.performance.routes import register_performance_routes

        register_performance_routes(host.router, processor)
    if host.registry is not None:
        from mlspan.collector.performance.prometheus import PerformanceMetrics

        host.registry.register(PerformanceMetrics(processor, _metrics_caps(host)))
    return processor


def _metrics_caps(host: Host) -> Any:
    return host.extras.get("metrics_config")


def performance_factory() -> Factory[PerformanceConfig]:
    """The ``performance`` processor factory."""
    return Factory(Kind.PROCESSOR, "performance", PerformanceConfig, create_performance_processor)
