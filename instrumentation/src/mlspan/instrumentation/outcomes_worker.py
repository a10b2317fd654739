"""The recorder's worker thread: logging predictions, joining labels, emitting spans.

The caller's side of ``log_predictions`` and ``record_outcomes`` only copies its
arguments into a bounded queue (a few microseconds per 1,000 rows), so user code never
waits for SQLite or summaries. This thread drains the queue in order (a prediction
logged before its label is always in the log when the label is joined), and emits the
accumulated summaries once ``emit_labels`` labels were joined, the first of them is
``emit_seconds`` old, or on ``flush``. Rows beyond ``max_pending_rows`` waiting in the
queue are dropped (counted and logged), never blocking the caller. Every failure is
caught and logged here.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, cast

import numpy as np
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from mlspan.instrumentation.outcomes_emit import emit_performance
from mlspan.instrumentation.outcomes_join import OutcomeJoiner
from mlspan.instrumentation.outcomes_log import PredictionLog
from mlspan.instrumentation.outcomes_model import ModelIdentity
from mlspan.instrumentation.outcomes_scores import ScoreAccumulator
from mlspan.semconv import (
    EXPERIMENT_ARM,
    OUTCOME_DUPLICATES,
    OUTCOME_PREDICTIONS,
    OUTCOME_UNMATCHED,
    OperationName,
    PerformanceTask,
)
from mlspan.summaries.performance_build import as_labels

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """The recorder's configuration (see ``OutcomeRecorder``)."""

    path: Path
    max_rows: int
    max_age_seconds: float
    window_seconds: int
    emit_labels: int
    emit_seconds: float
    max_pending_rows: int
    max_classes: int
    sketch_k: int


@dataclass(frozen=True)
class _Predictions:
    model: ModelIdentity
    ids: object
    y_pred: object
    proba: object
    at: float
    arm: str | None = None


@dataclass(frozen=True)
class _Labels:
    ids: object
    y_true: object
    at: float


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


class _Stop:
    """Ends the worker thread once everything before it was processed."""


_Item = _Predictions | _Labels | _Flush | _Stop


class OutcomeWorker:
    """A bounded queue of prediction and label batches, drained by one daemon thread.

    The caller's side takes no lock a busy worker could hold: ``SimpleQueue.put`` never
    blocks, so a caller never gives up the GIL and waits to get it back. The row bound
    is kept with two counters, one written by callers and one by the worker (``+=`` by
    two concurrent callers may lose an increment: the bound is approximate by that).
    """

    def __init__(self, settings: Settings, tracer: trace.Tracer) -> None:
        self._settings = settings
        self._tracer = tracer
        self._queue: SimpleQueue[tuple[_Item, int]] = SimpleQueue()
        self._put_rows = 0
        self._taken_rows = 0
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped_rows = 0
        """Rows dropped because the queue was full or the recorder closed."""
        self.emitted_spans = 0
        """Performance spans emitted (labels and predictions spans)."""
        self._scores = ScoreAccumulator(settings.window_seconds, settings.max_classes)
        self._log: PredictionLog | None = None
        """The worker thread's prediction log, once open (used on that thread only)."""

    def put_predictions(
        self,
        model: ModelIdentity,
        ids: object,
        y_pred: object,
        proba: object,
        at: float,
        rows: int,
        arm: str | None = None,
    ) -> None:
        """Queue one batch of predictions (served by experiment ``arm``, if given)."""
        self._put(_Predictions(model, ids, y_pred, proba, at, arm), rows)

    def put_labels(self, ids: object, y_true: object, at: float, rows: int) -> None:
        """Queue one batch of labels."""
        self._put(_Labels(ids, y_true, at), rows)

    def _put(self, item: _Predictions | _Labels, rows: int) -> None:
        pending = self._put_rows - self._taken_rows
        if self._closed or pending + rows > self._settings.max_pending_rows:
            self.dropped_rows += rows
            dropped = self.dropped_rows
            if dropped == rows or dropped % 100_000 < rows:
                _logger.warning("mlspan outcomes queue full or closed: %d rows dropped", dropped)
            return
        self._put_rows += rows
        self._queue.put((item, rows))
        if self._thread is None:
            self._start()

    def flush(self, timeout: float) -> bool:
        """Process everything queued and emit every summary; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put((_Flush(done), 0))
        return done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Flush, then stop the thread; later batches are dropped."""
        self.flush(timeout)
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put((_Stop(), 0))
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="mlspan-outcomes", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        log: PredictionLog | None = None
        joiner: OutcomeJoiner | None = None
        s = self._settings
        try:
            log = PredictionLog(s.path, s.max_rows, s.max_age_seconds)
            joiner = OutcomeJoiner(log, s.window_seconds, s.max_classes, s.sketch_k)
            self._log = log
        except Exception:
            _logger.warning("cannot open the mlspan prediction log %s", s.path, exc_info=True)
        interval = max(0.05, min(1.0, s.emit_seconds / 4))
        while True:
            try:
                entry = self._queue.get(timeout=interval)
            except Empty:
                entry = None
            if entry is not None:
                item, rows = entry
                self._taken_rows += rows
                if isinstance(item, _Stop):
                    self._guard(self._emit_scores)
                    if joiner is not None:
                        self._guard(lambda: self._emit(joiner))
                    if log is not None:
                        self._guard(log.close)
                    return
                self._guard(functools.partial(self._process, log, joiner, item))
            if self._due(self._scores.pending_since, self._scores.pending_rows):
                self._guard(self._emit_scores)
            if joiner is not None and self._due(joiner.pending_since, joiner.pending_labels):
                self._guard(lambda: self._emit(joiner))

    def _due(self, since: float | None, pending: int) -> bool:
        if since is None:
            return False
        s = self._settings
        return pending >= s.emit_labels or time.monotonic() - since >= s.emit_seconds

    @staticmethod
    def _guard(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            _logger.warning("mlspan outcomes: recording failed", exc_info=True)

    def _process(
        self,
        log: PredictionLog | None,
        joiner: OutcomeJoiner | None,
        item: _Item,
    ) -> None:
        if isinstance(item, _Flush):
            try:
                self._guard(self._emit_scores)
                if joiner is not None:
                    self._emit(joiner)
            finally:
                item.done.set()
            return
        if log is None or joiner is None or isinstance(item, _Stop):
            return
        if isinstance(item, _Labels):
            joiner.add_labels(_ids(item.ids), np.asarray(item.y_true), item.at)
            return
        self._log_predictions(log, item)

    def _log_predictions(self, log: PredictionLog, item: _Predictions) -> None:
        model = item.model
        record = log.model(model.version, model.name, model.task.value, model.classes)
        ids = _ids(item.ids)
        proba = None
        if item.proba is not None:
            proba = np.ascontiguousarray(item.proba, dtype="<f8")
            if proba.ndim != 2 or record.classes is None or proba.shape[1] != len(record.classes):
                _logger.warning(
                    "mlspan outcomes: probabilities of shape %s do not fit the model's classes",
                    proba.shape,
                )
                proba = None
        if model.task is PerformanceTask.REGRESSOR:
            values: list[Any] = np.asarray(item.y_pred, dtype=np.float64).ravel().tolist()
        elif item.y_pred is not None:
            values = as_labels(cast(Any, item.y_pred)).tolist()
        elif proba is not None and record.classes is not None:
            values = [record.classes[i] for i in proba.argmax(axis=1).tolist()]
        else:
            return
        blobs: list[bytes | None] = (
            [row.tobytes() for row in proba] if proba is not None else [None] * len(ids)
        )
        log.add(
            [(e, record.id, item.at, v, b) for e, v, b in zip(ids, values, blobs, strict=True)],
            item.arm,
        )
        if proba is not None and model.task is PerformanceTask.CLASSIFIER:
            self._scores.add(record, item.at, proba)

    def _emit_scores(self) -> None:
        """Emit the predictions summaries (binned probabilities of every logged prediction),
        each with the window's count of logged predictions."""
        log = self._log
        for result in self._scores.take():
            extra: dict[str, AttributeValue] = {}
            if log is not None:
                extra[OUTCOME_PREDICTIONS] = log.count(result.model.id, result.start, result.end)
            emit_performance(
                self._tracer,
                OperationName.PREDICTIONS,
                result.model.version,
                result.model.name,
                (result.start, result.end),
                result.summary,
                extra,
            )
            self.emitted_spans += 1

    def _emit(self, joiner: OutcomeJoiner) -> None:
        for result in joiner.take():
            extra: dict[str, AttributeValue] = {
                OUTCOME_PREDICTIONS: result.predictions,
                OUTCOME_UNMATCHED: result.unmatched,
                OUTCOME_DUPLICATES: result.duplicates,
            }
            if result.arm:
                extra[EXPERIMENT_ARM] = result.arm
            emit_performance(
                self._tracer,
                OperationName.LABELS,
                result.model.version,
                result.model.name,
                (result.start, result.end),
                result.summary,
                extra,
            )
            self.emitted_spans += 1


def _ids(ids: object) -> list[str]:
    if isinstance(ids, np.ndarray):
        return [str(v) for v in ids.ravel().tolist()]
    return [str(v) for v in ids]  # type: ignore[attr-defined]
