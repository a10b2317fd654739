"""Honest data of huge magnitude through decode, merge and drift, end to end.

Values up to ``MAX_MAGNITUDE`` (1e145) are accepted: their sums of squared deviations stay
finite, the 3rd and 4th power sums arrive as infinities and read as NaN skewness and
kurtosis, and nothing on the way raises (``m2**1.5`` and Welch's squared variances used
to raise OverflowError past ~1e77, which is why the bound was 1e75).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mlspan.collector.drift.config import DriftConfig, WindowConfig
from mlspan.collector.drift.engine import BAD_SUMMARY_REASON, DriftEngine
from mlspan.collector.drift.store import ResultStore
from mlspan.collector.drift.summary_check import MAX_COUNT, MAX_MAGNITUDE, decode_summary
from mlspan.collector.pdata.stats import IngestStats
from mlspan.semconv import attributes as attr
from tests.collector.drift.batches import batch, categorical, numerical, summary_span

ROWS = 4_000


def test_the_bound_keeps_the_sum_of_squares_of_the_largest_count_finite() -> None:
    spread = 2 * MAX_MAGNITUDE
    assert math.isfinite(MAX_COUNT * spread * spread)


@pytest.mark.parametrize("scale", [1e100, 1e140])
def test_huge_values_decode_merge_and_drift(tmp_path: Path, scale: float) -> None:
    rng = np.random.default_rng(5)
    stats = IngestStats()
    engine = DriftEngine(
        DriftConfig(window=WindowConfig(mode="rows", rows=ROWS)),
        stats,
        ResultStore(tmp_path / "drift.sqlite", 10),
    )
    halves = [rng.normal(size=ROWS // 2) * scale for _ in range(2)]
    fit = [numerical("x", half) for half in halves]
    assert fit[0].to_attributes()[attr.SUMMARY_M4] == math.inf  # beyond float64: inf
    assert decode_summary(dict(fit[0].to_attributes())) == fit[0]
    for summary in fit:  # two fit spans of distinct data: merged into one baseline
        engine.process(batch([summary_span("fit", [summary, categorical("c", ["a"] * 10)])]))
    shifted = (rng.normal(size=ROWS) + 0.5) * scale
    engine.process(batch([summary_span("predict", [numerical("x", shifted)])]))
    [result] = engine.latest_drift()
    feature = next(f for f in result.features if f.feature == "x")
    assert feature.baseline_count == feature.current_count == ROWS
    assert feature.drifted
    metrics = {m.name: m.value for m in feature.metrics}
    assert metrics["mean_change_sigma"] == pytest.approx(0.5, abs=0.1)
    assert math.isnan(metrics["kurtosis_change"])  # 4th-power sums are infinite: unknown
    assert stats.snapshot().spans_dropped == {}
    engine.shutdown()
    again = DriftEngine(DriftConfig(), IngestStats(), ResultStore(tmp_path / "drift.sqlite", 10))
    [(stored, _)] = again.history()
    assert [f.feature for f in stored.features if f.drifted] == ["x"]
    again.shutdown()


def test_values_past_the_bound_are_refused_and_counted() -> None:
    stats = IngestStats()
    engine = DriftEngine(DriftConfig(window=WindowConfig(mode="rows", rows=10)), stats)
    rng = np.random.default_rng(6)
    past = numerical("x", rng.normal(size=100) * 1e150)
    within = numerical("y", rng.normal(size=100))
    engine.process(batch([summary_span("fit", [past, within])]))
    assert stats.snapshot().spans_dropped == {BAD_SUMMARY_REASON: 1}
    assert engine.counts.decoded == 1 and engine.counts.bad == 1
