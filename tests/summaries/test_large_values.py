"""Moments of values of any magnitude: no OverflowError, no warning, infinities explicit;
and summaries of (value, count) pairs built without expanding them."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from datasketches import kll_doubles_sketch

from mlspan.summaries import Moments, NumericalSummary
from mlspan.summaries.kll_build import kll_from_sorted, kll_from_weighted


def exact_sums(values: list[float]) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """Mean and sums of powered deviations in exact rational arithmetic."""
    xs = [Fraction(v) for v in values]
    mean = sum(xs, Fraction(0)) / len(xs)
    return (
        mean,
        sum(((x - mean) ** 2 for x in xs), Fraction(0)),
        sum(((x - mean) ** 3 for x in xs), Fraction(0)),
        sum(((x - mean) ** 4 for x in xs), Fraction(0)),
    )


def as_float(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


@pytest.mark.parametrize("scale", [1e-200, 1e-3, 1.0, 1e60, 1e100, 1e150, 1e300])
def test_moments_match_exact_arithmetic_or_saturate(scale: float) -> None:
    rng = np.random.default_rng(7)
    values = (rng.lognormal(size=300) * scale).tolist()
    mean, m2, m3, m4 = exact_sums(values)
    for moments in (
        Moments.from_array(np.asarray(values)),
        NumericalSummary.from_values(values).moments,
    ):
        assert moments.mean == pytest.approx(float(mean), rel=1e-12)
        for got, want in ((moments.m2, m2), (moments.m3, m3), (moments.m4, m4)):
            expected = as_float(want)
            if math.isinf(expected):
                assert got == expected
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=0.0)


def test_merge_of_huge_samples_is_exact_or_saturated_and_never_raises() -> None:
    rng = np.random.default_rng(3)
    for scale in (1e70, 1e100, 1e140, 1e200, 1e300):
        a = rng.normal(size=400) * scale
        b = rng.normal(loc=3.0, size=700) * scale
        merged = Moments.from_array(a).merge(Moments.from_array(b))
        whole = Moments.from_array(np.concatenate([a, b]))
        assert merged.count == whole.count
        assert merged.mean == pytest.approx(whole.mean, rel=1e-9)
        for got, want in ((merged.m2, whole.m2), (merged.m3, whole.m3), (merged.m4, whole.m4)):
            if math.isinf(want):
                assert math.isinf(got)
            else:
                assert got == pytest.approx(want, rel=1e-6)
        # The statistics that need an infinite sum are NaN, never an error.
        for stat in (merged.skewness, merged.kurtosis, merged.std, merged.variance):
            assert isinstance(stat, float)
        assert merged.skewness == pytest.approx(whole.skewness, rel=1e-6, nan_ok=True)


def test_skewness_and_kurtosis_where_the_old_power_overflowed() -> None:
    # m2 ~ 1e300 made m2**1.5 raise OverflowError; the ratio form is the same number.
    values = np.array([0.0, 1e150, 3e150, 7e150])
    small = Moments.from_array(values / 1e150)
    big = Moments.from_array(values)
    assert math.isfinite(big.m2) and math.isinf(big.m4) and math.isinf(big.m3)
    assert math.isnan(big.skewness) and math.isnan(big.kurtosis)
    medium = Moments.from_array(values / 1e50)  # m3 ~1e300 finite, m4 overflows
    assert medium.skewness == pytest.approx(small.skewness, rel=1e-12)
    assert math.isnan(medium.kurtosis)
    both = Moments.from_array(values / 1e80)  # every sum finite
    assert both.kurtosis == pytest.approx(small.kurtosis, rel=1e-12)


def test_opposite_infinite_third_sums_merge_without_error() -> None:
    up = Moments(count=10, mean=0.0, m2=1e300, m3=math.inf, m4=math.inf, min=-1e150, max=1e150)
    down = Moments(10, 1e140, 1e300, -math.inf, math.inf, -1e150, 1e150)
    merged = up.merge(down)
    assert merged.m3 == math.inf and merged.m4 == math.inf
    assert math.isnan(merged.skewness)
    saturated = Moments(10, 0.0, math.inf, 0.0, math.inf, -1e300, 1e300)
    assert math.isinf(saturated.merge(up).m2) and math.isinf(saturated.merge(up).m4)
    assert math.isnan(saturated.skewness) and math.isnan(saturated.kurtosis)


@pytest.mark.parametrize("n_values", [1, 5, 300, 5_000])
def test_weighted_sketch_is_the_expanded_one(n_values: int) -> None:
    rng = np.random.default_rng(n_values)
    values = np.unique(rng.normal(size=n_values))
    weights = rng.integers(1, 40, size=values.size)
    expanded = np.repeat(values, weights)
    built = kll_from_weighted(values, weights, 200, np.random.default_rng(11))
    assert built == kll_from_sorted(expanded, 200, np.random.default_rng(11))
    summary = NumericalSummary.from_weighted(values, weights)
    plain = NumericalSummary.from_values(expanded)
    assert summary.count == plain.count and summary.moments.count == plain.moments.count
    assert summary.moments.mean == pytest.approx(plain.moments.mean, rel=1e-12, abs=1e-15)
    assert summary.moments.m2 == pytest.approx(plain.moments.m2, rel=1e-9)
    assert summary.moments.m4 == pytest.approx(plain.moments.m4, rel=1e-9)


def test_weighted_summary_of_a_billion_billion_rows_is_cheap() -> None:
    values = np.arange(1000, dtype=np.float64)
    weights = np.full(1000, 1 << 50, dtype=np.int64)  # 1.1e18 rows in all
    summary = NumericalSummary.from_weighted(values, weights, nulls=3)
    assert summary.count == 1000 * (1 << 50) + 3 and summary.nulls == 3
    sketch = kll_doubles_sketch.deserialize(summary.sketch_bytes)
    assert sketch.n == 1000 * (1 << 50)
    assert sketch.get_quantile(0.5) == pytest.approx(500, abs=10)
    assert len(summary.sketch_bytes) < 64 * 1024
    assert summary.moments.mean == pytest.approx(499.5)
    assert summary.moments.variance == pytest.approx(np.var(values), rel=1e-9)


def test_weighted_summary_counts_nan_as_null_and_inf_as_infinite() -> None:
    summary = NumericalSummary.from_weighted(
        [1.0, math.nan, math.inf, -math.inf, 1.0, 2.0, 0.5], [2, 3, 4, 5, 1, 0, 6]
    )
    assert (summary.count, summary.nulls, summary.nan, summary.inf) == (21, 3, 3, 9)
    assert summary.moments.count == 9
    assert (summary.moments.min, summary.moments.max) == (0.5, 1.0)
    with pytest.raises(ValueError, match="2\\*\\*62"):
        NumericalSummary.from_weighted([1.0, 2.0], [1 << 61, 1 << 61])
    with pytest.raises(ValueError):
        NumericalSummary.from_weighted([1.0, 2.0], [1, -1])
