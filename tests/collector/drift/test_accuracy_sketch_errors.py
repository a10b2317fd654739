"""The sketches' own error bounds in the drift tests: estimation error alone cannot reject."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy import stats

from mlspan.collector.drift import categorical
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.summaries import CategoricalSummary, NumericalSummary


def merged(values: np.ndarray, parts: int) -> NumericalSummary:
    """The summary of ``values`` as a window merges it from ``parts`` predict calls."""
    return functools.reduce(
        NumericalSummary.merge,
        (NumericalSummary.from_values(p) for p in np.array_split(values, parts)),
    )


def test_exact_sketches_give_the_exact_ks_statistic_and_no_sketch_allowance() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=150), rng.normal(0.4, 1.0, 150)
    comparison = compare_numerical(
        NumericalProfile.of(NumericalSummary.from_values(a)),
        NumericalProfile.of(NumericalSummary.from_values(b)),
    )
    assert comparison.facts["sketch_error"] == 0.0
    exact = stats.ks_2samp(a, b, method="exact")
    assert comparison.values["ks"] == pytest.approx(exact.statistic)
    # The p-value uses Kolmogorov's distribution at the effective size n1 n2 / (n1 + n2).
    assert comparison.p_values["ks"] == pytest.approx(exact.pvalue, rel=0.2)


@pytest.mark.parametrize("seed", range(4))
def test_merged_sketches_of_one_distribution_are_never_significant(seed: int) -> None:
    # 200 predict calls of 500 rows each side: the merges compact the sketches, whose
    # errors then exceed the exact test's 5 % critical D (0.006 at 1e5 rows).
    rng = np.random.default_rng(seed)
    reference, current = (
        merged(rng.normal(size=100_000), 200),
        merged(rng.normal(size=100_000), 200),
    )
    comparison = compare_numerical(NumericalProfile.of(reference), NumericalProfile.of(current))
    bound = math.hypot(reference.rank_error, current.rank_error)
    assert comparison.facts["sketch_error"] == pytest.approx(bound)
    assert comparison.p_values["ks"] > 0.05


def test_a_material_shift_survives_the_sketch_error_at_2000_rows() -> None:
    rng = np.random.default_rng(7)
    reference, current = merged(rng.normal(size=2_000), 10), merged(rng.normal(0.25, 1, 2_000), 10)
    comparison = compare_numerical(NumericalProfile.of(reference), NumericalProfile.of(current))
    assert comparison.facts["sketch_error"] > 0
    assert comparison.p_values["ks"] < 1e-4


def test_frequent_items_count_errors_are_moved_out_before_the_chi_square_test() -> None:
    rng = np.random.default_rng(5)
    labels = [f"v{i:03d}" for i in range(60)]
    shares = np.linspace(1, 3, 60) / np.linspace(1, 3, 60).sum()

    def coarse(counts: np.ndarray) -> CategoricalSummary:
        # A cap of 16 values for 60: a small sketch whose counts are off by hundreds.
        pairs = zip(labels, map(int, counts), strict=True)
        return CategoricalSummary.from_counts(dict(pairs), cap=16)

    for _ in range(3):
        reference = coarse(rng.multinomial(30_000, shares))
        current = coarse(rng.multinomial(30_000, shares))
        assert not reference.exact and not current.exact
        comparison = categorical.compare_categorical(reference, current)
        assert comparison.facts["count_error"] > 100
        assert comparison.p_values["chi2"] == 1.0
    # A shift far beyond the error bound is still found.
    shifted = shares.copy()
    shifted[-5:] *= 6
    comparison = categorical.compare_categorical(
        coarse(rng.multinomial(30_000, shares)),
        coarse(rng.multinomial(30_000, shifted / shifted.sum())),
    )
    assert comparison.p_values["chi2"] < 1e-6
