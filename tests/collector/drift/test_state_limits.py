"""The drift state's caps: series, category entries and sketch bytes.

Past a cap, summaries of new series (or summaries that would grow the state past it) are
left out and counted; series already tracked keep getting their windows and drift.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from mlspan.collector.drift.config import DriftConfig, WindowConfig
from mlspan.collector.drift.engine import DriftEngine
from mlspan.collector.drift.state import (
    MAX_KEY_TEXT,
    SERIES_LIMIT_REASON,
    STATE_LIMIT_REASON,
    footprint,
)
from mlspan.collector.drift.store import ResultStore
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError
from tests.collector.drift.batches import batch, categorical, numerical, summary_span

ROWS = 500


def engine_with(stats: IngestStats, **limits: int) -> DriftEngine:
    config = DriftConfig(window=WindowConfig(mode="rows", rows=ROWS), persist=False, **limits)  # type: ignore[arg-type]
    return DriftEngine(config, stats)


def test_series_past_the_cap_are_refused_and_tracked_ones_keep_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(1)
    stats = IngestStats()
    engine = engine_with(stats, max_series=3)
    features = [numerical(f"f{i}", rng.normal(size=ROWS)) for i in range(5)]
    with caplog.at_level(logging.WARNING, logger="mlspan.collector.drift"):
        engine.process(batch([summary_span("fit", features, role="train")]))
        # A new model is new series too; many refusals log one line.
        for version in range(20):
            other = summary_span("fit", features[:1], model="other", version=str(version))
            engine.process(batch([other]))
    assert engine.budget.series == 3
    assert stats.snapshot().spans_dropped == {SERIES_LIMIT_REASON: 22}
    warnings = [r for r in caplog.records if "drift state full" in r.getMessage()]
    assert len(warnings) == 1 and "3 series" in warnings[0].getMessage()
    # The three tracked series get their window and drift as before.
    current = [numerical(f"f{i}", rng.normal(loc=2.0, size=ROWS)) for i in range(5)]
    engine.process(batch([summary_span("predict", current)]))
    [result] = engine.latest_drift()
    assert {f.feature for f in result.features} == {"f0", "f1", "f2"}
    assert all(f.drifted for f in result.features)
    assert stats.snapshot().spans_dropped == {SERIES_LIMIT_REASON: 24}


def test_category_entries_are_capped_and_freed_when_windows_close() -> None:
    stats = IngestStats()
    engine = engine_with(stats, max_category_entries=250)
    labels = [f"v{i}" for i in range(100)]
    baseline = categorical("a", labels * 5)
    engine.process(batch([summary_span("fit", [baseline], role="train")]))
    assert engine.budget.category_entries == 100
    # 100 + 100 fit; a third set of 100 new labels does not.
    engine.process(batch([summary_span("predict", [categorical("a", labels * 2)])]))
    assert engine.budget.category_entries == 200
    wide = categorical("b", [f"w{i}" for i in range(100)])
    engine.process(batch([summary_span("fit", [wide], role="train")]))
    assert stats.snapshot().spans_dropped == {STATE_LIMIT_REASON: 1}
    assert engine.budget.category_entries == 200
    # Labels the series already holds add nothing and are accepted at the cap.
    engine.process(batch([summary_span("predict", [categorical("a", labels * 3)])]))
    [result] = engine.latest_drift()  # the window closed at 500 rows ...
    assert [f.feature for f in result.features] == ["a"]
    assert engine.budget.category_entries == 100  # ... and its entries were freed
    engine.process(batch([summary_span("fit", [wide], role="train")]))
    assert engine.budget.category_entries == 200
    assert stats.snapshot().spans_dropped == {STATE_LIMIT_REASON: 1}


def test_sketch_bytes_are_capped() -> None:
    rng = np.random.default_rng(2)
    stats = IngestStats()
    one = numerical("x0", rng.normal(size=5_000))
    size = footprint(one)[1]
    engine = engine_with(stats, max_sketch_bytes=int(size * 2.5))
    sketches = [numerical(f"x{i}", rng.normal(size=5_000)) for i in range(4)]
    engine.process(batch([summary_span("fit", sketches, role="train")]))
    assert stats.snapshot().spans_dropped == {STATE_LIMIT_REASON: 2}
    assert engine.budget.sketch_bytes <= size * 2.5
    assert engine.budget.series == 2


def test_refused_models_leave_no_state_and_persisted_baselines_stay_consistent(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    stats = IngestStats()
    config = DriftConfig(window=WindowConfig(mode="rows", rows=ROWS), max_series=4)
    engine = DriftEngine(config, stats, ResultStore(tmp_path / "drift.sqlite", 10))
    features = [numerical(f"f{i}", rng.normal(size=ROWS)) for i in range(3)]
    for model in range(50):
        span = summary_span("fit", features, model=f"m{model}", digest=f"d{model}")
        engine.process(batch([span]))
    # m0 takes three series and m1 the fourth; the other 48 models keep nothing.
    assert [key.model_name for key in engine.models()] == ["m0", "m1"]
    assert stats.snapshot().spans_dropped == {SERIES_LIMIT_REASON: 2 + 48 * 3}
    long_name = summary_span("fit", features[:1], model="x" * (MAX_KEY_TEXT + 1))
    engine.process(batch([long_name]))
    assert stats.snapshot().spans_dropped[STATE_LIMIT_REASON] == 1
    engine.shutdown()
    again = DriftEngine(config, IngestStats(), ResultStore(tmp_path / "drift.sqlite", 10))
    restored = {key.model_name for key in again.models()}
    assert restored == {"m0", "m1"}
    current = [numerical(f"f{i}", rng.normal(loc=3.0, size=ROWS)) for i in range(3)]
    again.process(batch([summary_span("predict", current, model="m0")]))
    [result] = again.latest_drift()
    assert {f.feature for f in result.features if f.drifted} == {"f0", "f1", "f2"}
    assert again.budget.series == 4
    again.shutdown()


@pytest.mark.parametrize("name", ["max_series", "max_category_entries", "max_sketch_bytes"])
def test_limits_must_be_positive(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        DriftConfig(**{name: 0}).validate()  # type: ignore[arg-type]
