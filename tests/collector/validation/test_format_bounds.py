"""Categories compared as numbers cost what their labels cost, never what their counts say.

A categorical feature with numeric labels, forced (or moved by cardinality) to numerical,
once became one float per counted row: an honest 1e9-row baseline, or a request claiming
2**43 rows per label, was a multi-GB allocation inside the drift worker.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from pathlib import Path
from types import MappingProxyType

import pytest

from mlspan.collector.drift.config import DriftConfig, WindowConfig
from mlspan.collector.drift.engine import DriftEngine
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.summary_check import MAX_MAGNITUDE, decode_summary
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.validation.checks import validate
from mlspan.collector.validation.config import ValidationConfig
from mlspan.collector.validation.format import reclassify, target_kind
from mlspan.semconv.values import FeatureKind, FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary
from tests.collector.drift.batches import batch, summary_span

KEY = ModelKey("svc", "churn", "v1")
LABELS = 1000
PEAK_BYTES = 64 * 1024 * 1024
"""Allocation budget of a whole drift pass over these summaries (the expansion was
8.8e15 floats: 70 PB)."""


def codes(counts: dict[str, int]) -> FeatureSummary:
    """A categorical summary as a request would carry it, through the checked decoder."""
    stats = CategoricalSummary.from_counts(counts, cap=2 * LABELS)
    summary = FeatureSummary("code", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "int64", stats)
    return decode_summary(dict(summary.to_attributes()))


@pytest.mark.parametrize("per_label", [1_000_000, 1 << 43])
def test_forced_numerical_drift_of_huge_counts_is_bounded_by_labels(
    tmp_path: Path, per_label: int
) -> None:
    (tmp_path / "churn.json").write_text(json.dumps({"feature_types": {"code": "numerical"}}))
    engine = DriftEngine(
        DriftConfig(
            window=WindowConfig(mode="rows", rows=1), persist=False, validation_dir=str(tmp_path)
        ),
        IngestStats(),
    )
    baseline = codes({str(i): per_label for i in range(LABELS)})
    current = codes({str(i + 300): per_label for i in range(LABELS)})
    assert baseline.stats.count == LABELS * per_label  # 1e9 or 8.8e15 rows
    tracemalloc.start()
    started = time.perf_counter()
    try:
        engine.process(batch([summary_span("fit", [baseline], role="train")]))
        engine.process(batch([summary_span("predict", [current])]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    [result] = engine.latest_drift()
    [feature] = result.features
    assert feature.kind == "numerical"
    assert feature.baseline_count == feature.current_count == LABELS * per_label
    assert feature.drifted  # a shift of 30 % of the range
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert elapsed < 20.0


def test_cardinality_moves_numeric_labels_with_crafted_counts_without_expanding() -> None:
    summary = codes({str(i): 1 << 43 for i in range(LABELS)})
    assert target_kind(summary, None, 50) == "numerical"
    tracemalloc.start()
    try:
        numeric = reclassify(summary, "numerical")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = numeric.stats
    assert isinstance(stats, NumericalSummary)
    assert stats.moments.count == LABELS << 43
    assert stats.moments.mean == pytest.approx((LABELS - 1) / 2)
    assert stats.sketch().get_quantile(0.25) == pytest.approx(250, abs=10)
    assert peak < 8 * 1024 * 1024


def test_non_finite_labels_become_nulls_and_infinities() -> None:
    counts = {"1": 5, "2.5": 5, "nan": 3, "inf": 2, "-Infinity": 1}
    stats = CategoricalSummary(16, 0, MappingProxyType(counts), True, b"", 10)
    summary = FeatureSummary("x", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "", stats)
    numeric = reclassify(summary, "numerical").stats
    assert isinstance(numeric, NumericalSummary)
    assert (numeric.count, numeric.nulls, numeric.nan, numeric.inf) == (16, 3, 3, 3)
    assert numeric.moments.count == 10 and numeric.moments.mean == pytest.approx(1.75)


def test_labels_beyond_the_collector_bound_stay_categorical() -> None:
    huge = f"{MAX_MAGNITUDE * 10:g}"
    assert math.isfinite(float(huge))
    stats = CategoricalSummary.from_counts({huge: 4, "1": 4})
    summary = FeatureSummary("x", FeatureKind.CATEGORICAL, FeatureOrigin.INPUT, "", stats)
    assert reclassify(summary, "numerical") is summary


def test_unseen_category_examples_are_the_most_frequent_and_short() -> None:
    baseline = FeatureSummary(
        "c",
        FeatureKind.CATEGORICAL,
        FeatureOrigin.INPUT,
        "",
        CategoricalSummary.from_counts({"a": 10, "b": 10}),
    )
    unseen = {f"{i:06d}" + "x" * 1_000_000: i + 1 for i in range(5)}
    current = FeatureSummary(
        "c",
        FeatureKind.CATEGORICAL,
        FeatureOrigin.INPUT,
        "",
        CategoricalSummary.from_counts(unseen | {"a": 1}, cap=10),
    )
    results = validate(KEY, {"c": baseline}, {"c": current}, ValidationConfig())
    [check] = [r for r in results if r.check == "unseen_categories"]
    assert not check.passed
    assert len(check.insight) < 400
    assert check.insight.index("000004") < check.insight.index("000003")
    assert "000000" not in check.insight
