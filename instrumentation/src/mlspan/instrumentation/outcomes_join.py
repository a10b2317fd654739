"""Joining labels to logged predictions, into performance summaries per model version and window.

Runs on the recorder's worker thread. Defined behaviour for the awkward cases:

* **late** labels: a prediction's window is the one its *prediction* time falls in, so a
  label arriving days later adds to that window's summary (the collector merges it
  into the window it already has);
* **partial** labels: only the ids given are joined; the rest wait (label coverage is
  the share joined so far);
* **out of order**: labels may arrive in any order, across windows and model versions;
  a label arriving before its prediction was logged matches nothing and is counted in
  ``unmatched`` (it is not kept for later);
* **duplicated** ids: within one call the last label of an id wins; a label for a
  prediction that already has one is ignored; both are counted in ``duplicates``;
* an entity scored by several model versions: its label is joined to each version's
  prediction;
* predictions logged with an experiment arm are summarised per arm (one summary per
  model version, window and arm).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlspan.instrumentation.outcomes_log import LoggedPrediction, ModelRecord, PredictionLog
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_build import (
    as_labels,
    classification_summary,
    regression_summary,
)


@dataclass(frozen=True)
class WindowResult:
    """A finished summary of one model version and prediction window, ready to emit."""

    model: ModelRecord
    start: int
    end: int
    summary: PerformanceSummary
    predictions: int
    unmatched: int
    duplicates: int
    arm: str | None = None
    """The experiment arm that served these predictions, when one was logged."""


@dataclass
class _Pending:
    summaries: dict[tuple[int, int, str], PerformanceSummary] = field(default_factory=dict)
    """By (model id, window start, experiment arm or "")."""
    labels: int = 0
    since: float | None = None
    unmatched: int = 0
    duplicates: int = 0


class OutcomeJoiner:
    """Joins label batches to the prediction log and accumulates the summaries."""

    def __init__(
        self, log: PredictionLog, window_seconds: int, max_classes: int, sketch_k: int
    ) -> None:
        self._log = log
        self._window = window_seconds
        self._max_classes = max_classes
        self._k = sketch_k
        self._pending = _Pending()

    @property
    def pending_labels(self) -> int:
        """Labels joined since the last ``take``."""
        return self._pending.labels

    @property
    def pending_since(self) -> float | None:
        """Monotonic time of the first label joined since the last ``take``."""
        return self._pending.since

    def window_of(self, at: float) -> int:
        """Start (Unix seconds) of the window a prediction made at ``at`` belongs to."""
        return int(at // self._window) * self._window

    def add_labels(self, ids: Sequence[str], y_true: npt.NDArray[np.generic], at: float) -> None:
        """Join one batch of labels (``ids[i]`` has label ``y_true[i]``, arrived at ``at``)."""
        position: dict[str, int] = {}
        for i, entity in enumerate(ids):
            position[entity] = i
        pending = self._pending
        pending.duplicates += len(ids) - len(position)
        found = self._log.find(list(position))
        seen = {row.entity for row in found}
        pending.unmatched += len(position) - len(seen)
        groups: dict[tuple[int, int, str], list[LoggedPrediction]] = {}
        for row in found:
            if row.labelled:
                pending.duplicates += 1
                continue
            groups.setdefault((row.model, self.window_of(row.at), row.arm or ""), []).append(row)
        if not groups:
            return
        for key, rows in groups.items():
            model = self._log.model_by_id(key[0])
            if model is None:
                continue
            truth = y_true[[position[row.entity] for row in rows]]
            summary = self._summary(model, rows, truth, at)
            if summary is None:
                continue
            previous = pending.summaries.get(key)
            pending.summaries[key] = summary if previous is None else previous.merge(summary)
            pending.labels += summary.count
        self._log.mark_labelled([row.rowid for rows in groups.values() for row in rows])
        if pending.since is None:
            pending.since = time.monotonic()

    def _summary(
        self,
        model: ModelRecord,
        rows: Sequence[LoggedPrediction],
        truth: npt.NDArray[np.generic],
        at: float,
    ) -> PerformanceSummary | None:
        delays = np.array([at - row.at for row in rows], dtype=np.float64)
        if model.task == PerformanceTask.REGRESSOR.value:
            predicted = np.array([_number(row.pred) for row in rows], dtype=np.float64)
            return regression_summary(_numbers(truth), predicted, delays, self._k)
        labels = as_labels(truth)
        predicted_labels = np.array([str(row.pred) for row in rows], dtype=str)
        classes = model.classes
        width = len(classes) * 8 if classes else -1
        scored = np.array([row.proba is not None and len(row.proba) == width for row in rows])
        parts: list[PerformanceSummary] = []
        if classes and scored.any():
            proba = np.frombuffer(
                b"".join(row.proba or b"" for row, ok in zip(rows, scored, strict=True) if ok),
                dtype="<f8",
            ).reshape(-1, len(classes))
            parts.append(
                classification_summary(
                    labels[scored],
                    predicted_labels[scored],
                    proba,
                    classes,
                    delays[scored],
                    self._max_classes,
                    self._k,
                )
            )
        if not scored.all():
            rest = ~scored
            parts.append(
                classification_summary(
                    labels[rest],
                    predicted_labels[rest],
                    delays=delays[rest],
                    max_classes=self._max_classes,
                    k=self._k,
                )
            )
        summary = parts[0]
        for part in parts[1:]:
            summary = summary.merge(part)
        return summary

    def take(self) -> list[WindowResult]:
        """The accumulated summaries (emptying them), each with its window's prediction count."""
        pending, self._pending = self._pending, _Pending()
        out: list[WindowResult] = []
        for (model_id, start, arm), summary in sorted(pending.summaries.items()):
            model = self._log.model_by_id(model_id)
            if model is None:
                continue
            end = start + self._window
            out.append(
                WindowResult(
                    model,
                    start,
                    end,
                    summary,
                    self._log.count(model_id, start, end),
                    pending.unmatched,
                    pending.duplicates,
                    arm or None,
                )
            )
        return out

    def counts(self) -> tuple[int, int]:
        """Unmatched and duplicated labels since the last ``take``."""
        return self._pending.unmatched, self._pending.duplicates


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _numbers(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([_number(v) for v in values.tolist()], dtype=np.float64)
