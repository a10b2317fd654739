"""Feature summaries merge exactly (moments) or within bound (sketches) and round-trip."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlspan.semconv import (
    FEATURE_KIND,
    SUMMARY_COUNT,
    SUMMARY_NULLS,
    SUMMARY_SKETCH,
    FeatureKind,
    FeatureOrigin,
)
from mlspan.summaries import (
    CategoricalSummary,
    FeatureSummary,
    Moments,
    NumericalSummary,
    SummaryDecodeError,
)


def test_moments_merge_equals_moments_of_concatenation() -> None:
    rng = np.random.default_rng(1)
    a, b, c = rng.lognormal(size=1000), rng.normal(5, 2, size=17), rng.exponential(size=3)
    merged = Moments.from_array(a).merge(Moments.from_array(b)).merge(Moments.from_array(c))
    whole = np.concatenate([a, b, c])
    direct = Moments.from_array(whole)
    for name in ("count", "mean", "m2", "m3", "m4", "min", "max"):
        assert getattr(merged, name) == pytest.approx(getattr(direct, name), rel=1e-9)
    assert merged.std == pytest.approx(whole.std(ddof=1), rel=1e-9)
    assert merged.skewness == pytest.approx(stats.skew(whole), rel=1e-9)
    assert merged.kurtosis == pytest.approx(stats.kurtosis(whole), rel=1e-9)


def test_numerical_summary_counts_nulls_nan_inf() -> None:
    values = np.array([1.0, np.nan, np.inf, -np.inf, 3.0])
    summary = NumericalSummary.from_values(values, nulls=2)
    assert (summary.count, summary.nulls, summary.nan, summary.inf) == (7, 3, 1, 2)
    assert summary.moments.count == 2
    assert summary.moments.mean == 2.0
    assert summary.null_rate == pytest.approx(3 / 7)


def test_numerical_merge_keeps_quantiles_within_the_sketch_bound() -> None:
    rng = np.random.default_rng(2)
    parts = [rng.normal(size=20_000) for _ in range(5)]
    merged = NumericalSummary.from_values(parts[0])
    for part in parts[1:]:
        merged = merged.merge(NumericalSummary.from_values(part))
    sketch = merged.sketch()
    assert sketch.n == 100_000
    whole = np.concatenate(parts)
    for q in (0.01, 0.25, 0.5, 0.9, 0.99):
        rank = float(np.mean(whole <= sketch.get_quantile(q)))
        assert abs(rank - q) <= merged.rank_error


def test_categorical_merge_is_exact_under_the_cap_and_sketched_above() -> None:
    a = CategoricalSummary.from_counts({"red": 3, "blue": 1}, nulls=1, cap=3)
    b = CategoricalSummary.from_counts({"red": 2, "green": 5}, cap=3)
    merged = a.merge(b)
    assert merged.exact
    assert dict(merged.counts) == {"red": 5, "blue": 1, "green": 5}
    assert (merged.count, merged.nulls) == (12, 1)
    over = merged.merge(CategoricalSummary.from_counts({"black": 1}, cap=3))
    assert not over.exact
    assert over.count == 13
    assert over.counts["red"] >= 5
    assert over.sketch().get_estimate("green") >= 5


def numerical_feature() -> FeatureSummary:
    return FeatureSummary(
        "age",
        FeatureKind.NUMERICAL,
        FeatureOrigin.INPUT,
        "float64",
        NumericalSummary.from_values(np.arange(100.0)),
    )


def categorical_feature() -> FeatureSummary:
    return FeatureSummary(
        "colour",
        FeatureKind.CATEGORICAL,
        FeatureOrigin.PREDICTION,
        "object",
        CategoricalSummary.from_counts({"a": 2, "b": 3}, nulls=1),
    )


@pytest.mark.parametrize("make", [numerical_feature, categorical_feature])
def test_event_attributes_round_trip(make: type[FeatureSummary]) -> None:
    feature = make()
    attributes = feature.to_attributes()
    assert all(isinstance(v, (str, bool, int, float)) for v in attributes.values())
    assert FeatureSummary.from_attributes(attributes) == feature


def test_decoding_rejects_bad_attributes() -> None:
    attributes = numerical_feature().to_attributes()
    for key, bad in [
        (SUMMARY_COUNT, "three"),
        (SUMMARY_SKETCH, "not base64!"),
        (SUMMARY_SKETCH, "AAAA"),
        (FEATURE_KIND, "weird"),
        (SUMMARY_NULLS, -1),
        (SUMMARY_NULLS, 10_000),
    ]:
        with pytest.raises(SummaryDecodeError):
            FeatureSummary.from_attributes({**attributes, key: bad})
    with pytest.raises(SummaryDecodeError):
        FeatureSummary.from_attributes({})


def test_merging_different_kinds_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        numerical_feature().merge(categorical_feature())
