"""Per-model baselines and current windows, merged from summary records.

Summaries merge exactly for moments and within the sketch bound for quantiles, so a
window is the merge of every predict-time summary it received. A baseline merges the
fit-time summaries of distinct training datasets (a dataset seen again, e.g. a refit on
the same data, is not counted twice). Predictions have no fit-time summary: the first
closed window of a prediction feature becomes its baseline.

What the state holds is bounded (``SeriesBudget``): at most ``max_series`` (model,
feature) series, ``max_category_entries`` exact category counts and
``max_sketch_bytes`` of serialized sketches across every baseline and window. A summary
that would go past a cap is left out, counted as
``mlspan_spans_dropped_total{reason="drift_series_limit"}`` (a new series past the series
cap) or ``{reason="drift_state_limit"}`` (categories or sketch bytes), once per summary,
and logged at most once a minute; series already tracked keep working. A series, once
tracked, keeps its place for the life of the process (its baseline is kept), so the cap
counts every series seen since start-up, baselines restored from the store included.
Models count too: a state is kept for a new model only while a series slot is free.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from mlspan.collector.drift.config import WindowConfig
from mlspan.collector.drift.extract import BASELINE, SummaryRecord
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.pdata.stats import IngestStats
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary

logger = logging.getLogger(__package__)

SERIES_LIMIT_REASON: Final = "drift_series_limit"
"""``spans_dropped`` reason for summaries of new series past ``max_series``."""
STATE_LIMIT_REASON: Final = "drift_state_limit"
"""``spans_dropped`` reason for summaries that would take the category entries or the
sketch bytes past their caps."""
LOG_INTERVAL: Final = 60.0
MAX_KEY_TEXT: Final = 4096
"""Longest service, model name or version a tracked model may have (characters)."""

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


def footprint(summary: FeatureSummary | None) -> tuple[int, int]:
    """(exact category entries, serialized sketch bytes) a summary holds."""
    if summary is None:
        return 0, 0
    stats = summary.stats
    entries = len(stats.counts) if isinstance(stats, CategoricalSummary) else 0
    return entries, len(stats.sketch_bytes)


def _growth(existing: FeatureSummary | None, summary: FeatureSummary) -> tuple[int, int]:
    """What merging ``summary`` into ``existing`` may add: exact for category entries
    (the union of labels, at most the cap), the new sketch's size for a new slot (merged
    sketches stay within the size their ``k`` or cap allows)."""
    entries, size = footprint(summary)
    if existing is None or existing.kind != summary.kind:
        held_entries, held_size = footprint(existing)
        return entries - held_entries, size - held_size
    old, new = existing.stats, summary.stats
    if isinstance(old, CategoricalSummary) and isinstance(new, CategoricalSummary):
        union = len(old.counts.keys() | new.counts.keys())
        return min(union, old.cap, new.cap) - len(old.counts), 0
    return 0, 0


class SeriesBudget:
    """Caps on the series, category entries and sketch bytes the drift state holds."""

    def __init__(
        self,
        max_series: int,
        max_category_entries: int,
        max_sketch_bytes: int,
        stats: IngestStats | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_series = max_series
        self.max_category_entries = max_category_entries
        self.max_sketch_bytes = max_sketch_bytes
        self._stats = stats
        self._clock = clock
        self._series: set[tuple[ModelKey, FeatureId]] = set()
        self._models: set[ModelKey] = set()
        self.category_entries = 0
        self.sketch_bytes = 0
        self.refused: dict[str, int] = {}
        """Summaries left out, by reason."""
        self._pending = 0
        self._next_log = float("-inf")

    @property
    def series(self) -> int:
        """Series tracked."""
        return len(self._series)

    def admit_model(self, key: ModelKey) -> bool:
        """Whether a state may be kept for the new model ``key``: only while a series
        slot is free (a model holds at least one), so at most ``max_series`` models are,
        and none with a key part longer than ``MAX_KEY_TEXT``. A model refused here has
        all its summaries refused."""
        if key in self._models:
            return True
        full = max(len(self._models), len(self._series)) >= self.max_series
        if full or _key_text(key) > MAX_KEY_TEXT:
            return False
        self._models.add(key)
        return True

    def register(self, key: ModelKey, held: dict[FeatureId, FeatureSummary]) -> None:
        """Count summaries a state already holds (baselines restored from the store)."""
        if held:
            self._models.add(key)
        for fid, summary in held.items():
            self._series.add((key, fid))
            self.settle((0, 0), footprint(summary))

    def admit(
        self, key: ModelKey, fid: FeatureId, existing: FeatureSummary | None, new: FeatureSummary
    ) -> bool:
        """Whether ``new`` may be merged into ``existing`` (the series' summary on its
        side); counts and logs a refusal."""
        series = (key, fid)
        if key not in self._models:
            if _key_text(key) > MAX_KEY_TEXT:
                return self._refuse(STATE_LIMIT_REASON, key, fid, "key text")
            return self._refuse(SERIES_LIMIT_REASON, key, fid, f"{self.max_series} models")
        if series not in self._series and len(self._series) >= self.max_series:
            return self._refuse(SERIES_LIMIT_REASON, key, fid, f"{self.max_series} series")
        entries, size = _growth(existing, new)
        if entries > 0 and self.category_entries + entries > self.max_category_entries:
            limit = f"{self.max_category_entries} category entries"
            return self._refuse(STATE_LIMIT_REASON, key, fid, limit)
        if size > 0 and self.sketch_bytes + size > self.max_sketch_bytes:
            return self._refuse(STATE_LIMIT_REASON, key, fid, f"{self.max_sketch_bytes} bytes")
        self._series.add(series)
        return True

    def settle(self, before: tuple[int, int], after: tuple[int, int]) -> None:
        """Account for a slot's footprint changing from ``before`` to ``after``."""
        self.category_entries += after[0] - before[0]
        self.sketch_bytes += after[1] - before[1]

    def _refuse(self, reason: str, key: ModelKey, fid: FeatureId, limit: str) -> bool:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if self._stats is not None:
            self._stats.spans_dropped(reason, 1)
        self._pending += 1
        now = self._clock()
        if now >= self._next_log:
            logger.warning(
                "drift state full (%s): left out %d feature summar%s since the last report "
                "(latest: %s feature %s); series already tracked keep working",
                limit,
                self._pending,
                "y" if self._pending == 1 else "ies",
                _short(key),
                fid[0][:200],
            )
            self._pending = 0
            self._next_log = now + LOG_INTERVAL
        return False


def _key_text(key: ModelKey) -> int:
    return max(len(key.service), len(key.model_name), len(key.model_version))


def _short(key: ModelKey) -> str:
    return "/".join(part[:200] for part in (key.service, key.model_name, key.model_version))


@dataclass
class ModelState:
    """The baseline and the open window of one model version."""

    key: ModelKey
    baseline: dict[FeatureId, FeatureSummary] = field(default_factory=dict)
    baseline_digests: set[str] = field(default_factory=set)
    window: Window = field(default_factory=Window)
    version: int = 0
    """Bumped whenever the baseline changes, to invalidate prepared profiles."""
    budget: SeriesBudget | None = field(default=None, repr=False, compare=False)
    """Caps shared by every model's state; None: unbounded."""
    last_closed: dict[FeatureId, FeatureSummary] = field(default_factory=dict, repr=False)
    """The summaries of the last closed window, kept for the web UI's distribution charts
    (one window per model, outside the budget: at most as much again as the caps)."""
    _registered: bool = field(default=False, init=False, repr=False, compare=False)

    def add(self, record: SummaryRecord, now: float) -> bool:
        """Route one record to the baseline or the open window; False when the budget
        refused it (then it is left out, counted and logged)."""
        budget = self.budget
        target = self.baseline if record.side == BASELINE else self.window.features
        fid = (record.summary.name, record.summary.origin.value)
        if budget is not None:
            self.count_held()
            if not budget.admit(self.key, fid, target.get(fid), record.summary):
                return False
        before = footprint(target.get(fid))
        if record.side != BASELINE:
            self.window.add(record, now)
        else:
            self.add_baseline(record.summary, record.dataset_digest, record.operation)
        if budget is not None:
            budget.settle(before, footprint(target.get(fid)))
        return True

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

    def count_held(self) -> None:
        """Count what the state already holds against the budget, once (a baseline
        restored from the store; a new state holds nothing)."""
        if self.budget is not None and not self._registered:
            self.budget.register(self.key, self.baseline)
            self._registered = True

    def close_window(self) -> Window:
        """Return the open window and open a new one."""
        closed, self.window = self.window, Window()
        self.last_closed = closed.features
        if self.budget is not None:
            for summary in closed.features.values():
                self.budget.settle(footprint(summary), (0, 0))
        return closed

    def adopt_predictions(self, closed: Window) -> None:
        """Make a closed window's prediction summaries the baseline where there is none."""
        for fid, summary in closed.features.items():
            if fid not in self.baseline and fid[1] == FeatureOrigin.PREDICTION.value:
                self.baseline[fid] = summary
                self.version += 1
                if self.budget is not None:
                    self.budget.settle((0, 0), footprint(summary))


def _merge_into(
    target: dict[FeatureId, FeatureSummary], fid: FeatureId, summary: FeatureSummary
) -> None:
    existing = target.get(fid)
    if existing is None or existing.kind != summary.kind:
        target[fid] = summary
    else:
        target[fid] = existing.merge(summary)
