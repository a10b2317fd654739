"""``bulk_merge`` gives what merging two at a time gives, for the summaries of a batch."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest

from mlspan.collector.drift.bulk_merge import merge_all, merge_moments
from mlspan.summaries import FeatureSummary, Moments, NumericalSummary
from tests.collector.drift.batches import categorical, numerical


@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_numerical_group_matches_the_pairwise_fold_and_the_raw_data(offset: float) -> None:
    rng = np.random.default_rng(11)
    parts = [offset + rng.lognormal(0, 1 + i / 10, 500 + 300 * i) for i in range(12)]
    summaries = [numerical("x", values) for values in parts]
    bulk = merge_all(summaries)
    folded = reduce(FeatureSummary.merge, summaries)
    assert isinstance(bulk.stats, NumericalSummary) and isinstance(folded.stats, NumericalSummary)
    exact = NumericalSummary.from_values(np.concatenate(parts)).moments
    for got in (bulk.stats.moments, folded.stats.moments):
        assert got.count == exact.count and (got.min, got.max) == (exact.min, exact.max)
        for name in ("mean", "m2", "m3", "m4"):
            assert getattr(got, name) == pytest.approx(getattr(exact, name), rel=1e-9)
    assert bulk.stats.count == folded.stats.count == sum(p.size for p in parts)
    sketch, reference = bulk.stats.sketch(), folded.stats.sketch()
    assert sketch.n == reference.n
    bound = sketch.normalized_rank_error(False) * 2
    for q in (0.01, 0.25, 0.5, 0.75, 0.99):
        value = sketch.get_quantile(q)
        assert abs(reference.get_rank(value) - q) <= bound


def test_a_non_finite_sum_falls_back_to_the_guarded_pairwise_merge() -> None:
    huge = Moments(2, 1e100, 2e200, 0.0, float("inf"), 0.0, 2e100)
    small = Moments(3, 1.0, 2.0, 0.0, 2.0, 0.0, 2.0)
    assert merge_moments([huge, small]) == huge.merge(small)
    assert merge_moments([Moments(), small]) == small
    assert merge_moments([]) == Moments()


def test_categorical_and_single_groups_merge_as_before() -> None:
    rng = np.random.default_rng(12)
    parts = [categorical("plan", rng.choice(["a", "b", "c"], 200)) for _ in range(5)]
    assert merge_all(parts) == reduce(FeatureSummary.merge, parts)
    assert merge_all(parts[:1]) is parts[0]
