"""Per-model baselines and current windows, merged from summary records.

Summaries merge exactly for moments and within the sketch bound for quantiles, so a
window is the merge of every predict-time summary it received. A baseline merges the
fit-time summaries of distinct training datasets (a dataset seen again, e.g. a refit on
the same data, is not counted twice). Predictions have no fit-time summary: the first
closed window of a prediction feature becomes its baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mlspan.collector.drift.config import WindowConfig
from mlspan.collector.drift.extract import BASELINE, SummaryRecord
from mlspan.collector.drift.results import ModelKey
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import FeatureSummary

FeatureId = tuple[str, str]
"""(feature name, origin)."""


@dataclass
class Window:
    """Merged current summaries of one model since the window opened."""

    opened: float = field(default_factory=time.time)
    first: float = 0.0
    last: float = 0.0
    features: dict[FeatureId, FeatureSummary] = field(default_factory=dict)

    def add(self, record: SummaryRecord, now: float) -> None:
        """Merge one summary into the window (the first one opens it at ``now``)."""
        if not self.features:
            self.opened = now
        fid = (record.summary.name, record.summary.origin.value)
        _merge_into(self.features, fid, record.summary)
        self.first = record.time if not self.first else min(self.first, record.time)
        self.last = max(self.last, record.time)

    @property
    def rows(self) -> int:
        """Values seen by the fullest feature."""
        return max((s.stats.count for s in self.features.values()), default=0)

    def due(self, config: WindowConfig, now: float) -> bool:
        """Whether the window should close now."""
        if not self.features:
            return False
        if config.mode == "rows":
            return self.rows >= config.rows
        return now - self.opened >= config.seconds


@dataclass
class ModelState:
    """The baseline and the open window of one model version."""

    key: ModelKey
    baseline: dict[FeatureId, FeatureSummary] = field(default_factory=dict)
    baseline_digests: set[str] = field(default_factory=set)
    window: Window = field(default_factory=Window)
    version: int = 0
    """Bumped whenever the baseline changes, to invalidate prepared profiles."""

    def add(self, record: SummaryRecord, now: float) -> None:
        """Route one record to the baseline or the open window."""
        if record.side != BASELINE:
            self.window.add(record, now)
            return
        self.add_baseline(record.summary, record.dataset_digest, record.operation)

    def add_baseline(self, summary: FeatureSummary, digest: str, operation: str) -> None:
        """Merge a baseline summary, once per (dataset digest, feature)."""
        fid = (summary.name, summary.origin.value)
        token = f"{digest}\x00{operation}\x00{fid[0]}\x00{fid[1]}"
        if digest and operation != "partial_fit":
            if token in self.baseline_digests:
                return
            self.baseline_digests.add(token)
        _merge_into(self.baseline, fid, summary)
        self.version += 1

    def close_window(self) -> Window:
        """Return the open window and open a new one."""
        closed, self.window = self.window, Window()
        return closed

    def adopt_predictions(self, closed: Window) -> None:
        """Make a closed window's prediction summaries the baseline where there is none."""
        for fid, summary in closed.features.items():
            if fid not in self.baseline and fid[1] == FeatureOrigin.PREDICTION.value:
                self.baseline[fid] = summary
                self.version += 1


def _merge_into(
    target: dict[FeatureId, FeatureSummary], fid: FeatureId, summary: FeatureSummary
) -> None:
    existing = target.get(fid)
    if existing is None or existing.kind != summary.kind:
        target[fid] = summary
    else:
        target[fid] = existing.merge(summary)
