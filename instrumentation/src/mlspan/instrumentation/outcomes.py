"""Outcomes: model performance from delayed labels, with no per-row data leaving the app.

Predictions are logged locally, keyed by your own entity ids; when the true labels
arrive (hours or weeks later) they are joined to them, and only mergeable performance
summaries leave the application, as spans (``mlspan.summaries.performance``)::

    from mlspan.instrumentation.outcomes import OutcomeRecorder, evaluate

    recorder = OutcomeRecorder("state/predictions.sqlite")     # one per process

    with recorder.keyed(model, customer_ids) as scored:        # predictions by id
        proba = scored.predict_proba(features)
    recorder.log_predictions(model, customer_ids, y_pred, proba)   # or explicitly

    recorder.record_outcomes(customer_ids[:500], churned[:500], at=label_time)

    evaluate(model, y_true, y_pred, proba)     # labels at hand: no log needed

In an A/B/n experiment whose router picks the arm, name it when logging
(``recorder.log_predictions(model, ids, y_pred, arm="treatment")``, also ``keyed`` and
``evaluate``): the labelled outcomes of those predictions then carry
``mlspan.experiment.arm`` and count for that arm (docs/experiments.md).

Summaries are keyed by model version and by the window of the *prediction* time
(``window_seconds``, an hour by default), so late labels land in the window of their
predictions. Predictions logged with probabilities are also summarised at once, before
any label (their binned probabilities: ``predictions`` spans), so the collector can
estimate each window's performance while its labels are still weeks away.
``docs/outcomes.md`` describes the log's bound, the join's behaviour for late, partial,
out-of-order and duplicated labels, and the span contract.

Nothing here raises into user code except argument errors (``ValueError`` for
mismatched lengths or an unknown ``task``): every failure of logging, joining or
emitting is caught and logged. ``predict`` and ``predict_proba`` under ``keyed`` return
the model's own results and let its exceptions through unchanged.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from mlspan.instrumentation.outcomes_emit import emit_performance
from mlspan.instrumentation.outcomes_model import ModelIdentities, guess_task, parse_task
from mlspan.instrumentation.outcomes_worker import OutcomeWorker, Settings
from mlspan.instrumentation.version import __version__
from mlspan.semconv import EXPERIMENT_ARM, OperationName, PerformanceTask
from mlspan.summaries.performance import DEFAULT_MAX_CLASSES, DEFAULT_SCORE_K, PerformanceSummary
from mlspan.summaries.performance_build import classification_summary, regression_summary

__all__ = ["KeyedPredictions", "OutcomeRecorder", "evaluate"]

_logger = logging.getLogger(__name__)

PATH_VARIABLE: Final = "OTEL_INSTRUMENTATION_MLSPAN_PREDICTION_LOG"
"""Environment variable naming the prediction log file when no path is given."""
DEFAULT_PATH: Final = "mlspan-predictions.sqlite"
"""The prediction log's file (in the working directory) when neither is set."""
DEFAULT_WINDOW_SECONDS: Final = 3600
SCOPE: Final = __name__

Time = float | datetime | None
"""A time: Unix seconds, an aware or naive (local) ``datetime``, or None for now."""


def _seconds(at: Time) -> float:
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        return at.timestamp()
    return float(at)


def _rows(value: object, what: str) -> int:
    try:
        return len(value)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"{what} must be a sequence or an array") from exc


def _snapshot(value: object) -> object:
    """A copy the caller cannot change afterwards (cheap: one array or list copy)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    to_numpy = getattr(value, "to_numpy", None)
    if callable(to_numpy):
        return to_numpy(copy=True)
    if isinstance(value, (list, tuple)):
        return list(value)
    return np.array(value)


class OutcomeRecorder:
    """A bounded local prediction log and the worker that joins labels to it.

    ``path`` is the SQLite file (default: ``$OTEL_INSTRUMENTATION_MLSPAN_PREDICTION_LOG``,
    else ``mlspan-predictions.sqlite`` in the working directory). The log keeps at most
    ``max_rows`` predictions, none older than ``max_age_seconds``. Summaries cover
    prediction windows of ``window_seconds`` and are emitted once ``emit_labels`` labels
    (or logged predictions, for their probabilities) were taken in or ``emit_seconds``
    after the first, and on ``flush``/``close``; at most
    ``max_pending_rows`` rows wait in the queue (more are dropped and counted).
    ``max_classes`` and ``sketch_k`` size the summaries. ``tracer_provider`` defaults to
    the global provider. ``close`` runs at interpreter exit.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_rows: int = 1_000_000,
        max_age_seconds: float = 90 * 86400,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        emit_labels: int = 10_000,
        emit_seconds: float = 60.0,
        max_pending_rows: int = 1_000_000,
        max_classes: int = DEFAULT_MAX_CLASSES,
        sketch_k: int = DEFAULT_SCORE_K,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if max_rows < 1 or max_age_seconds <= 0 or window_seconds < 1 or max_pending_rows < 1:
            raise ValueError("max_rows, max_age_seconds, window_seconds, max_pending_rows > 0")
        chosen = path if path is not None else os.environ.get(PATH_VARIABLE, DEFAULT_PATH)
        self.settings: Final = Settings(
            Path(chosen),
            max_rows,
            max_age_seconds,
            int(window_seconds),
            max(1, emit_labels),
            emit_seconds,
            max_pending_rows,
            max_classes,
            sketch_k,
        )
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        self._models = ModelIdentities()
        self._worker = OutcomeWorker(self.settings, self._tracer)
        atexit.register(self.close)

    @property
    def dropped_rows(self) -> int:
        """Rows dropped because the queue was full or the recorder closed."""
        return self._worker.dropped_rows

    @property
    def emitted_spans(self) -> int:
        """Performance spans emitted so far."""
        return self._worker.emitted_spans

    def log_predictions(
        self,
        model: object,
        ids: Sequence[object] | Any,
        y_pred: Sequence[object] | Any = None,
        proba: Any = None,
        *,
        at: Time = None,
        name: str | None = None,
        task: PerformanceTask | str | None = None,
        arm: str | None = None,
    ) -> None:
        """Log predictions keyed by entity ids (compared as ``str(id)``).

        ``model`` is the fitted estimator (its version, name, classes and task are read
        from it) or a version string. ``y_pred`` may be omitted when ``proba`` is given
        (the most probable class is the prediction). ``at`` is the prediction time.
        ``arm`` names the experiment arm that served these predictions.
        """
        rows = _rows(ids, "ids")
        if y_pred is None and proba is None:
            raise ValueError("log_predictions needs y_pred or proba")
        for value, what in ((y_pred, "y_pred"), (proba, "proba")):
            if value is not None and _rows(value, what) != rows:
                raise ValueError(f"{rows} ids but {_rows(value, what)} rows of {what}")
        kind = parse_task(task)
        try:
            identity = self._models.of(model, name, kind, y_pred, proba)
            self._worker.put_predictions(
                identity,
                _snapshot(ids),
                None if y_pred is None else _snapshot(y_pred),
                None if proba is None else _snapshot(proba),
                _seconds(at),
                rows,
                arm or None,
            )
        except Exception:
            _logger.warning("mlspan outcomes: cannot log predictions", exc_info=True)

    def keyed(
        self,
        model: Any,
        ids: Sequence[object] | Any,
        *,
        at: Time = None,
        name: str | None = None,
        arm: str | None = None,
    ) -> KeyedPredictions:
        """A context whose ``predict``/``predict_proba`` log their results under ``ids``
        (served by experiment ``arm``, if given)."""
        return KeyedPredictions(self, model, ids, at, name, arm)

    def record_outcomes(
        self, ids: Sequence[object] | Any, y_true: Sequence[object] | Any, at: Time = None
    ) -> None:
        """Join true labels to the logged predictions of these entity ids.

        ``at`` is when the labels became known (the label delay is ``at`` minus the
        prediction time). The join runs on the worker thread.
        """
        rows = _rows(ids, "ids")
        if _rows(y_true, "y_true") != rows:
            raise ValueError(f"{rows} ids but {_rows(y_true, 'y_true')} labels")
        try:
            self._worker.put_labels(_snapshot(ids), _snapshot(y_true), _seconds(at), rows)
        except Exception:
            _logger.warning("mlspan outcomes: cannot record outcomes", exc_info=True)

    def evaluate(
        self,
        model: object,
        y_true: Any,
        y_pred: Any,
        proba: Any = None,
        **options: Any,
    ) -> PerformanceSummary | None:
        """``evaluate`` with this recorder's tracer and window."""
        options.setdefault("window_seconds", self.settings.window_seconds)
        return _evaluate(self._tracer, self._models, model, y_true, y_pred, proba, **options)

    def flush(self, timeout: float = 10.0) -> bool:
        """Log, join and emit everything recorded so far; False if ``timeout`` passed."""
        try:
            return self._worker.flush(timeout)
        except Exception:
            _logger.warning("mlspan outcomes: flush failed", exc_info=True)
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Flush and stop the worker (idempotent); later calls are dropped."""
        atexit.unregister(self.close)
        try:
            self._worker.close(timeout)
        except Exception:
            _logger.warning("mlspan outcomes: close failed", exc_info=True)


class KeyedPredictions:
    """Calls ``predict``/``predict_proba`` of a model and logs the results on exit.

    Results and exceptions of the model pass through unchanged; nothing is logged when
    the block raises.
    """

    def __init__(
        self,
        recorder: OutcomeRecorder,
        model: Any,
        ids: Any,
        at: Time,
        name: str | None,
        arm: str | None = None,
    ) -> None:
        self._recorder = recorder
        self._model = model
        self._ids = ids
        self._at = at
        self._name = name
        self._arm = arm
        self._pred: Any = None
        self._proba: Any = None

    def __enter__(self) -> KeyedPredictions:
        return self

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """The model's ``predict(x)``; its result is logged under the ids."""
        self._pred = result = self._model.predict(x, **kwargs)
        return result

    def predict_proba(self, x: Any, **kwargs: Any) -> Any:
        """The model's ``predict_proba(x)``; its result is logged under the ids."""
        self._proba = result = self._model.predict_proba(x, **kwargs)
        return result

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None or (self._pred is None and self._proba is None):
            return
        try:
            self._recorder.log_predictions(
                self._model,
                self._ids,
                self._pred,
                self._proba,
                at=self._at,
                name=self._name,
                arm=self._arm,
            )
        except ValueError:
            _logger.warning("mlspan outcomes: keyed predictions not logged", exc_info=True)


def evaluate(
    model: object,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    classes: Sequence[object] | None = None,
    name: str | None = None,
    task: PerformanceTask | str | None = None,
    at: Time = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    tracer_provider: TracerProvider | None = None,
    arm: str | None = None,
) -> PerformanceSummary | None:
    """Emit the performance of predictions and labels at hand (no prediction log).

    ``model`` is a fitted estimator or a model version string; ``classes`` are the
    columns of ``proba`` (default: the estimator's ``classes_``). The summary covers the
    window containing ``at`` (default now). ``arm`` names the experiment arm that served
    the predictions. Returns the summary, or None when it could not be built (logged).
    """
    tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
    return _evaluate(
        tracer,
        ModelIdentities(),
        model,
        y_true,
        y_pred,
        proba,
        classes=classes,
        name=name,
        task=task,
        at=at,
        window_seconds=window_seconds,
        arm=arm,
    )


def _evaluate(
    tracer: trace.Tracer,
    models: ModelIdentities,
    model: object,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    classes: Sequence[object] | None = None,
    name: str | None = None,
    task: PerformanceTask | str | None = None,
    at: Time = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    arm: str | None = None,
) -> PerformanceSummary | None:
    rows = _rows(y_true, "y_true")
    if _rows(y_pred, "y_pred") != rows or (proba is not None and _rows(proba, "proba") != rows):
        raise ValueError("y_true, y_pred and proba must have the same number of rows")
    if proba is not None and classes is None and isinstance(model, str):
        raise ValueError("proba needs classes (its columns) when the model is a version string")
    kind = parse_task(task)
    if kind is None and isinstance(model, str):
        kind = guess_task(y_pred, proba, classes)
    try:
        identity = models.of(model, name, kind, y_pred, proba)
        if identity.task is PerformanceTask.REGRESSOR:
            summary = regression_summary(y_true, y_pred)
        else:
            columns = classes if classes is not None else identity.classes
            summary = classification_summary(
                y_true, y_pred, proba if columns is not None else None, columns
            )
        start = int(_seconds(at) // window_seconds) * window_seconds
        emit_performance(
            tracer,
            OperationName.EVALUATE,
            identity.version,
            identity.name,
            (start, start + window_seconds),
            summary,
            {EXPERIMENT_ARM: arm} if arm else None,
        )
        return summary
    except Exception:
        _logger.warning("mlspan outcomes: evaluate failed", exc_info=True)
        return None
