"""The merged windows of every model version, bounded, with counted refusals.

``PerformanceState`` keys windows by (service, model, version) and prediction-window
start; a span for a window already held is merged into it (late labels land in their
prediction window). At most ``max_models`` versions are kept (summaries of a further one
are refused and counted) and ``max_windows_per_model`` windows per version (the oldest
window is evicted and counted). Thread-safe: ingest writes, the API and ``/metrics`` read.

Apart from them, per version and window, the binned probabilities of instrumented
``predict_proba`` calls (``traced``), under the same caps: the estimates use them only for
versions whose windows carry no ``predictions`` span's.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace

from mlspan.collector.performance.extract import (
    ModelKey,
    TracedScores,
    ValidationScore,
    WindowRecord,
)
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_predicted import PredictedScores


@dataclass(frozen=True)
class Window:
    """One model version's merged summary for one prediction window."""

    start: float
    end: float
    summary: PerformanceSummary
    predictions: int | None
    """Latest ``mlspan.outcome.predictions`` seen for the window."""
    predictions_time: float
    spans: int


class PerformanceState:
    """See the module docstring."""

    def __init__(self, max_models: int, max_windows_per_model: int) -> None:
        self._max_models = max_models
        self._max_windows = max_windows_per_model
        self._lock = threading.Lock()
        self._windows: dict[ModelKey, dict[float, Window]] = {}
        self._validation: dict[ModelKey, float] = {}
        self._evaluated: dict[ModelKey, PerformanceSummary] = {}
        self._traced: dict[ModelKey, dict[float, tuple[float, PredictedScores]]] = {}
        self._generation: dict[ModelKey, int] = {}
        self.refused: Counter[str] = Counter()
        """Refusals by reason: ``models`` (cap), ``evicted`` (oldest windows dropped),
        ``task`` (a span whose task differs from the window's), ``decode`` (bad spans)."""

    def add(self, record: WindowRecord) -> tuple[Window | None, list[float]]:
        """Merge ``record`` into its window: the merged window (None if refused) and the
        starts of the windows evicted to make room."""
        with self._lock:
            windows = self._windows.get(record.key)
            if windows is None:
                if len(self._windows) >= self._max_models:
                    self.refused["models"] += 1
                    return None, []
                windows = self._windows[record.key] = {}
            held = windows.get(record.start)
            if held is None:
                window = Window(
                    record.start,
                    record.end,
                    record.summary,
                    record.predictions,
                    record.time,
                    1,
                )
            elif held.summary.task is not record.summary.task:
                self.refused["task"] += 1
                return None, []
            else:
                newer = record.predictions is not None and record.time >= held.predictions_time
                window = replace(
                    held,
                    end=max(held.end, record.end),
                    summary=held.summary.merge(record.summary),
                    predictions=record.predictions if newer else held.predictions,
                    predictions_time=record.time if newer else held.predictions_time,
                    spans=held.spans + 1,
                )
            windows[record.start] = window
            self._bump(record.key)
            evicted: list[float] = []
            while len(windows) > self._max_windows:
                evicted.append(min(windows))
                del windows[evicted[-1]]
                self.refused["evicted"] += 1
            return window, evicted

    def put(self, key: ModelKey, window: Window) -> None:
        """Place a window restored from the store (caps apply as for ``add``)."""
        with self._lock:
            windows = self._windows.get(key)
            if windows is None:
                if len(self._windows) >= self._max_models:
                    self.refused["models"] += 1
                    return
                windows = self._windows[key] = {}
            windows[window.start] = window
            self._bump(key)
            while len(windows) > self._max_windows:
                del windows[min(windows)]

    def add_traced(self, record: TracedScores) -> tuple[float, PredictedScores] | None:
        """Merge one ``predict_proba`` call's binned probabilities into its window: the
        window's (end, merged scores), None when refused (caps)."""
        with self._lock:
            windows = self._traced.get(record.key)
            if windows is None:
                if len(self._traced) >= self._max_models:
                    self.refused["models"] += 1
                    return None
                windows = self._traced[record.key] = {}
            held = windows.get(record.start)
            merged = (
                (record.end, record.predicted)
                if held is None
                else (max(held[0], record.end), held[1].merge(record.predicted))
            )
            windows[record.start] = merged
            while len(windows) > self._max_windows:
                del windows[min(windows)]
                self.refused["evicted"] += 1
            self._bump(record.key)
            return merged

    def put_traced(self, key: ModelKey, start: float, end: float, scores: PredictedScores) -> None:
        """Place traced probabilities restored from the store (caps apply)."""
        with self._lock:
            windows = self._traced.get(key)
            if windows is None:
                if len(self._traced) >= self._max_models:
                    return
                windows = self._traced[key] = {}
            windows[start] = (end, scores)
            while len(windows) > self._max_windows:
                del windows[min(windows)]
            self._bump(key)

    def traced(self, key: ModelKey) -> list[tuple[float, float, PredictedScores]]:
        """The version's traced probabilities by window: (start, end, scores)."""
        with self._lock:
            held = self._traced.get(key, {})
            return [(start, end, scores) for start, (end, scores) in sorted(held.items())]

    def add_evaluated(
        self, key: ModelKey, summary: PerformanceSummary
    ) -> PerformanceSummary | None:
        """Merge an ``evaluate`` span's summary into the version's validation outcomes (the
        reference of its estimated performance); the merged summary, None if refused."""
        with self._lock:
            held = self._evaluated.get(key)
            if held is None and len(self._evaluated) >= self._max_models:
                self.refused["validation"] += 1
                return None
            if held is not None and held.task is not summary.task:
                self.refused["task"] += 1
                return None
            merged = summary if held is None else held.merge(summary)
            self._evaluated[key] = merged
            self._bump(key)
            return merged

    def put_evaluated(self, key: ModelKey, summary: PerformanceSummary) -> None:
        """Place validation outcomes restored from the store."""
        with self._lock:
            if key in self._evaluated or len(self._evaluated) < self._max_models:
                self._evaluated[key] = summary
                self._bump(key)

    def evaluated(self, key: ModelKey) -> PerformanceSummary | None:
        """The version's merged ``evaluate`` outcomes, if any."""
        with self._lock:
            return self._evaluated.get(key)

    def set_validation(self, score: ValidationScore) -> bool:
        """Keep a version's validation score (the latest wins); False if refused."""
        with self._lock:
            if score.key not in self._validation and len(self._validation) >= self._max_models:
                self.refused["validation"] += 1
                return False
            self._validation[score.key] = score.score
            self._bump(score.key)
            return True

    def _bump(self, key: ModelKey) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1

    def generation(self, key: ModelKey) -> int:
        """A number that changes whenever ``key``'s windows or validation score change
        (results computed at one generation can be reused until it changes)."""
        with self._lock:
            return self._generation.get(key, 0)

    def refuse(self, reason: str, count: int = 1) -> None:
        """Count refused spans (``decode``: malformed)."""
        with self._lock:
            self.refused[reason] += count

    def model_keys(self) -> list[ModelKey]:
        """Every model version held (with windows or traced probabilities), sorted."""
        with self._lock:
            return sorted(
                set(self._windows) | set(self._traced),
                key=lambda k: (k.service, k.model, k.version),
            )

    def windows(self, key: ModelKey) -> list[Window]:
        """The windows of ``key`` by start time: the per-window error streams (confusion
        counts, regression sums) and probability sketches that concept-drift detection and
        estimated performance read."""
        with self._lock:
            return [w for _, w in sorted(self._windows.get(key, {}).items())]

    def validation(self, key: ModelKey) -> float | None:
        """The version's validation score, if one was seen."""
        with self._lock:
            return self._validation.get(key)

    def validation_scores(self) -> dict[ModelKey, float]:
        """Every validation score held."""
        with self._lock:
            return dict(self._validation)

    def refusals(self) -> dict[str, int]:
        """A copy of the refusal counts."""
        with self._lock:
            return dict(self.refused)
