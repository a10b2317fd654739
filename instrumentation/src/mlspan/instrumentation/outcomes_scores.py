"""Summaries of the predicted probabilities of logged predictions, before their labels.

Runs on the recorder's worker thread. Every batch of predictions logged with
probabilities adds to the summary of its model version and prediction window
(``performance_build.predictions_summary``: binned probabilities of every prediction, no
labelled row, no per-row value). The summaries are emitted as ``predictions`` spans on
the recorder's schedule (``emit_labels`` predictions, ``emit_seconds``, ``flush``), so the
collector can estimate a window's performance (confidence-based, as NannyML's CBPE)
long before its labels arrive. Spans of one window add up in the collector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlspan.instrumentation.outcomes_log import ModelRecord
from mlspan.summaries.performance import PerformanceSummary
from mlspan.summaries.performance_build import predictions_summary


@dataclass(frozen=True)
class ScoresResult:
    """A finished predictions summary of one model version and window, ready to emit."""

    model: ModelRecord
    start: int
    end: int
    summary: PerformanceSummary


@dataclass
class _Pending:
    summaries: dict[tuple[int, int], tuple[ModelRecord, PerformanceSummary]] = field(
        default_factory=dict
    )
    rows: int = 0
    since: float | None = None


class ScoreAccumulator:
    """Accumulates predictions summaries per (model version, window) until taken."""

    def __init__(self, window_seconds: int, max_classes: int) -> None:
        self._window = window_seconds
        self._max_classes = max_classes
        self._pending = _Pending()

    @property
    def pending_rows(self) -> int:
        """Predictions summarised since the last ``take``."""
        return self._pending.rows

    @property
    def pending_since(self) -> float | None:
        """Monotonic time of the first prediction summarised since the last ``take``."""
        return self._pending.since

    def add(self, model: ModelRecord, at: float, proba: npt.NDArray[np.float64]) -> None:
        """Add predictions of ``model`` made at ``at`` with probabilities ``proba``."""
        if model.classes is None or not proba.shape[0]:
            return
        summary = predictions_summary(proba, model.classes, self._max_classes)
        start = int(at // self._window) * self._window
        pending = self._pending
        key = (model.id, start)
        held = pending.summaries.get(key)
        merged = summary if held is None else held[1].merge(summary)
        pending.summaries[key] = (model, merged)
        pending.rows += int(proba.shape[0])
        if pending.since is None:
            pending.since = time.monotonic()

    def take(self) -> list[ScoresResult]:
        """The accumulated summaries (emptying them), by model and window."""
        pending, self._pending = self._pending, _Pending()
        return [
            ScoresResult(model, start, start + self._window, summary)
            for (_, start), (model, summary) in sorted(pending.summaries.items())
        ]
