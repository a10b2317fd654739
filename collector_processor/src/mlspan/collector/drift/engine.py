"""The drift engine: turns feature summaries arriving in spans into drift and validation.

Batches are queued (bounded; overflow is dropped and counted, because drift is a side
consumer and must never push back on ingest) and a worker thread decodes their summary
events, merges them into per-model baselines and windows, and analyses each window when
it closes. Results go to listeners (alerting), to ``latest_*()`` (the Prometheus
collector reads them at scrape time) and to the result store.

A window closes when its time or row limit is reached, when a span asks for it
(``mlspan.drift.window.close``, the end of a scoring job) or when ``close()`` is called
(the query API's close request). The summaries of one batch are grouped by model and
feature and each group is merged in one pass (``bulk_merge``) before it joins its window.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from functools import partial
from pathlib import Path
from typing import Final

from mlspan.collector.drift.analysis import ProfileCache, analyze
from mlspan.collector.drift.bulk_merge import merge_all
from mlspan.collector.drift.config import DriftConfig
from mlspan.collector.drift.extract import (
    BASELINE,
    ExtractCounts,
    SummaryRecord,
    WindowClose,
    extract,
)
from mlspan.collector.drift.results import (
    DatasetDrift,
    ModelKey,
    ResultsListener,
    ValidationResult,
)
from mlspan.collector.drift.selection import (
    Selection,
    WindowStatus,
    as_selection,
    request_covers,
)
from mlspan.collector.drift.state import FeatureId, ModelState, SeriesBudget
from mlspan.collector.drift.store import ResultStore
from mlspan.collector.pdata import TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.validation.config import ValidationConfig, load_validation_config
from mlspan.summaries import FeatureSummary

logger = logging.getLogger(__name__)

DROP_REASON: Final = "drift_queue_full"
"""``spans_dropped`` reason for batches the drift queue had no room for."""
BAD_SUMMARY_REASON: Final = "bad_summary"
"""``spans_dropped`` reason for spans with a feature summary that failed its checks (the
summary is left out; the span's other summaries and its lineage are kept)."""

Result = tuple[DatasetDrift, list[ValidationResult]]
_Group = tuple[ModelKey, str, str]
"""(model, feature name, origin): the summaries of one batch merged together."""


class ValidationConfigs:
    """Validation configs by model name, loaded (and checked) once at startup."""

    def __init__(self, config: DriftConfig) -> None:
        self._default = ValidationConfig(drift=config.thresholds)
        self._by_model: dict[str, ValidationConfig] = {}
        if config.validation_dir:
            folder = Path(config.validation_dir)
            for path in sorted(folder.glob("*.json")):
                self._by_model[path.stem] = load_validation_config(path, config.thresholds)
        self._default = self._by_model.pop("default", self._default)

    def for_model(self, model: str) -> ValidationConfig:
        """The config of ``model``, else ``default.json``, else the built-in defaults."""
        return self._by_model.get(model, self._default)


class DriftEngine:
    """Per-model baselines, windows and results; see the module docstring."""

    def __init__(
        self,
        config: DriftConfig,
        stats: IngestStats,
        store: ResultStore | None = None,
        clock: Callable[[], float] = time.time,
        validation: ValidationConfigs | None = None,
    ) -> None:
        self._config = config
        self._stats = stats
        self._store = store
        self._clock = clock
        self._validation = validation if validation is not None else ValidationConfigs(config)
        self._queue: queue.Queue[TraceBatch | None] = queue.Queue(config.queue_size)
        self._lock = threading.RLock()
        self._states: dict[ModelKey, ModelState] = {}
        self.budget = SeriesBudget(
            config.max_series, config.max_category_entries, config.max_sketch_bytes, stats
        )
        self._cache = ProfileCache()
        self._history: dict[ModelKey, deque[Result]] = {}
        self._listeners: list[ResultsListener] = []
        self._worker: threading.Thread | None = None
        self._stopped = False
        self.counts = ExtractCounts()
        self.batches_dropped = 0
        if store is not None:
            self._restore(store)

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._lock:
            if self._worker is not None or self._stopped:
                return
            self._worker = threading.Thread(target=self._run, name="mlspan-drift", daemon=True)
            self._worker.start()

    def shutdown(self) -> None:
        """Process what is queued, stop the worker and close the store (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join()
        else:
            self._drain()
        if self._store is not None:
            self._store.close()

    def consume(self, batch: TraceBatch) -> None:
        """Queue a batch; when the queue is full it is dropped and counted."""
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self.batches_dropped += 1
            self._stats.spans_dropped(DROP_REASON, batch.span_count)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued batch has been processed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    # results ---------------------------------------------------------------------------

    def add_listener(self, listener: ResultsListener) -> None:
        """Call ``listener.on_results`` for every result from now on."""
        with self._lock:
            self._listeners.append(listener)

    def latest_drift(self) -> list[DatasetDrift]:
        """The newest drift result of every model."""
        with self._lock:
            return [h[-1][0] for h in self._history.values() if h]

    def latest_validation(self) -> list[ValidationResult]:
        """The validation results of every model's newest window."""
        with self._lock:
            return [v for h in self._history.values() if h for v in h[-1][1]]

    def history(self, model: str | Selection | None = None) -> list[Result]:
        """Every kept result (of the selected models only), oldest first per model."""
        selected = as_selection(model)
        with self._lock:
            return [r for key, h in self._history.items() if selected.matches(key) for r in h]

    def models(self) -> list[ModelKey]:
        """Every model with a baseline, a window or a result."""
        with self._lock:
            return sorted(set(self._states) | set(self._history), key=str)

    def summaries(self, key: ModelKey) -> tuple[dict[FeatureId, FeatureSummary], ...]:
        """A model's baseline and current summaries (the open window's, else the last
        closed window's), copied: what the web UI draws distributions from."""
        with self._lock:
            state = self._states.get(key)
            if state is None:
                return {}, {}
            return dict(state.baseline), dict(state.window.features or state.last_closed)

    def evaluate(
        self, model: str | Selection | None = None, skip: Collection[ModelKey] = ()
    ) -> list[Result]:
        """Results for the open windows right now, without closing them (of the
        selected models, except those in ``skip``)."""
        selected = as_selection(model)
        with self._lock:
            return [
                analyze(s, s.window, self._validation.for_model(s.key.model_name), self._cache)
                for s in self._states.values()
                if s.window.features and selected.matches(s.key) and s.key not in skip
            ]

    def open_windows(self, model: str | Selection | None = None) -> list[WindowStatus]:
        """The open windows that hold summaries, and when each closes by itself."""
        selected = as_selection(model)
        window = self._config.window
        timed = window.mode != "rows"
        with self._lock:
            return [
                WindowStatus(
                    s.key,
                    s.window.opened,
                    s.window.rows,
                    s.window.opened + window.seconds if timed else None,
                    None if timed else window.rows,
                )
                for s in self._states.values()
                if s.window.features and selected.matches(s.key)
            ]

    def close(self, model: str | Selection | None = None) -> list[Result]:
        """Close the selected models' open windows now and return their results."""
        selected = as_selection(model)
        with self._lock:
            results = self._close_due(lambda state: selected.matches(state.key), force=True)
        self._publish(results)
        return results

    # processing ------------------------------------------------------------------------

    def process(self, batch: TraceBatch) -> None:
        """Merge every summary of ``batch`` (the worker calls this; tests may too)."""
        now = self._clock()
        results: list[Result] = []
        with self._lock:
            changed: set[_Group] = set()
            seen_before: dict[ModelKey, set[str]] = {}
            pending: dict[_Group, list[SummaryRecord]] = {}
            bad_before = self.counts.bad_spans
            try:
                for item in extract(batch, self._config.baseline, self.counts):
                    if isinstance(item, WindowClose):
                        self._merge_pending(pending, now)
                        results += self._close_due(partial(request_covers, item), force=True)
                        continue
                    if item.side != BASELINE:
                        group = (item.key, item.summary.name, item.summary.origin.value)
                        pending.setdefault(group, []).append(item)
                        continue
                    state = self._state(item.key)
                    if item.key not in seen_before and item.key in self._states:
                        seen_before[item.key] = set(state.baseline_digests)
                    if state.add(item, now):  # else refused by the budget, not kept
                        changed.add((item.key, item.summary.name, item.summary.origin.value))
                self._merge_pending(pending, now)
            finally:
                if self.counts.bad_spans > bad_before:
                    self._stats.spans_dropped(
                        BAD_SUMMARY_REASON, self.counts.bad_spans - bad_before
                    )
            if self._store is not None and changed:
                self._store.save_baselines(
                    [(key, self._states[key].baseline[(n, o)]) for key, n, o in changed],
                    {
                        key: self._states[key].baseline_digests - before
                        for key, before in seen_before.items()
                    },
                )
        self._publish(results)
        self.close_windows()

    def _state(self, key: ModelKey) -> ModelState:
        state = self._states.get(key)
        if state is None:
            state = ModelState(key, budget=self.budget)
            if self.budget.admit_model(key):  # else its summaries are refused, not kept
                self._states[key] = state
        return state

    def _merge_pending(self, pending: dict[_Group, list[SummaryRecord]], now: float) -> None:
        """Add each group of current-window records to its window as one merged record."""
        for (key, _, _), records in pending.items():
            state = self._state(key)
            if len(records) == 1 or len({r.summary.kind for r in records}) > 1:
                for record in records:
                    state.add(record, now)
                continue
            merged = merge_all([r.summary for r in records])
            first = min(r.time for r in records)
            last = max(r.time for r in records)
            tail = records[-1]  # the group's record: the last one's, with the merged summary
            record = SummaryRecord(
                tail.key, tail.side, merged, tail.dataset_digest, tail.operation, last
            )
            if state.add(record, now):
                window = state.window  # the group's earliest span, not only its last
                window.first = min(window.first, first) if window.first else first
        pending.clear()

    def close_windows(self, force: bool = False) -> list[Result]:
        """Analyse and close every window that is due (every open one if ``force``)."""
        with self._lock:
            results = self._close_due(lambda state: True, force)
        self._publish(results)
        return results

    def _close_due(self, wanted: Callable[[ModelState], bool], force: bool) -> list[Result]:
        """Close the wanted windows that are due (all wanted ones if ``force``); call
        with the lock held, then ``_publish`` the results without it."""
        now = self._clock()
        results: list[Result] = []
        for state in self._states.values():
            if not (state.window.features and wanted(state)):
                continue
            if not (force or state.window.due(self._config.window, now)):
                continue
            closed = state.close_window()
            config = self._validation.for_model(state.key.model_name)
            result = analyze(state, closed, config, self._cache)
            state.adopt_predictions(closed)
            self._remember(result)
            results.append(result)
        return results

    def _publish(self, results: list[Result]) -> None:
        """Store the results and tell the listeners (never with the lock held)."""
        if not results:
            return
        with self._lock:
            listeners = list(self._listeners)
        for drift, validation in results:
            if self._store is not None:
                self._store.save_result(drift, validation)
            for listener in listeners:
                try:
                    listener.on_results(drift, validation)
                except Exception:
                    logger.exception("drift results listener %r failed", listener)

    def _remember(self, result: Result) -> None:
        key = result[0].key
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = deque(maxlen=self._config.history)
        history.append(result)

    def _run(self) -> None:
        tick = self._config.tick_seconds
        while True:
            try:
                batch = self._queue.get(timeout=tick)
            except queue.Empty:
                self._safely(self.close_windows)
                continue
            try:
                if batch is None:
                    self._drain()
                    return
                self._safely(self.process, batch)
            finally:
                self._queue.task_done()

    def _drain(self) -> None:
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if batch is not None:
                    self._safely(self.process, batch)
            finally:
                self._queue.task_done()

    def _safely(self, work: Callable[..., object], *args: object) -> None:
        try:
            work(*args)
        except Exception:
            logger.exception("drift engine failed on a batch; continuing")

    def _restore(self, store: ResultStore) -> None:
        for key, summary in store.baselines():
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = ModelState(key, budget=self.budget)
            state.baseline[(summary.name, summary.origin.value)] = summary
        for key, tokens in store.baseline_tokens().items():
            if key in self._states:
                self._states[key].baseline_digests.update(tokens)
        for state in self._states.values():
            state.count_held()  # restored baselines count against the budget
        for result in store.results():
            self._remember(result)
