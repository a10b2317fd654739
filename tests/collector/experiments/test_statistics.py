"""The experiment statistics against scipy and statsmodels on fixed inputs (to 1e-9).

Each test computes a figure the way the collector does, from the per-arm sums that
mergeable summaries hold (count, successes, sum, sum of squares), and the same figure
with the reference library from the raw values or counts.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import normal_sample_size_one_tail
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from mlspan.collector.experiments import fixed_horizon as fh
from mlspan.collector.experiments import sequential as sq
from mlspan.collector.experiments.sample_size import (
    mean_sample_size,
    proportion_sample_size,
    sequential_sample_size,
)

TOLERANCE = 1e-9
PROPORTIONS = (
    (412, 500, 380, 500),
    (9, 40, 3, 38),
    (8123, 10_000, 8010, 10_000),
    (1, 1000, 0, 1200),
    (151_234, 200_000, 149_880, 199_000),
)
ALPHAS = (0.05, 0.01, 0.1 / 3)


def close(value: float, reference: float) -> bool:
    return math.isclose(value, reference, rel_tol=TOLERANCE, abs_tol=1e-12)


def sums(values: npt.NDArray[np.float64]) -> tuple[int, float, float]:
    return len(values), float(values.sum()), float((values * values).sum())


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), PROPORTIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_two_proportion_test_matches_statsmodels(
    x1: int, n1: int, x2: int, n2: int, alpha: float
) -> None:
    ours = fh.two_proportion_test(x1, n1, x2, n2, alpha)
    z, p = proportions_ztest([x1, x2], [n1, n2])
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="wald", alpha=alpha)
    assert close(ours.statistic, z)
    assert close(ours.p_value, p)
    assert close(ours.low, low)
    assert close(ours.high, high)
    assert close(ours.difference, x1 / n1 - x2 / n2)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_welch_from_sums_matches_scipy_and_statsmodels_on_the_raw_values(
    seed: int, alpha: float
) -> None:
    rng = np.random.default_rng(seed)
    a = rng.gamma(2.0, 1.5, size=700 + 300 * seed)
    b = rng.gamma(2.2, 1.4, size=500)
    n1, s1, q1 = sums(a)
    n2, s2, q2 = sums(b)
    m1, v1 = fh.mean_and_variance(n1, s1, q1)
    m2, v2 = fh.mean_and_variance(n2, s2, q2)
    ours = fh.welch_test(m1, v1, n1, m2, v2, n2, alpha)
    reference = stats.ttest_ind(a, b, equal_var=False)
    interval = reference.confidence_interval(1 - alpha)
    low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(
        alpha=alpha, usevar="unequal"
    )
    from_stats = stats.ttest_ind_from_stats(
        m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False
    )
    assert close(ours.statistic, float(reference.statistic))
    assert close(ours.p_value, float(reference.pvalue))
    assert close(ours.p_value, float(from_stats.pvalue))
    assert close(ours.low, float(interval.low)) and close(ours.low, low)
    assert close(ours.high, float(interval.high)) and close(ours.high, high)


@pytest.mark.parametrize(("x", "n"), [(412, 500), (3, 38), (0, 50), (50, 50), (8123, 10_000)])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_wilson_interval_matches_statsmodels(x: int, n: int, alpha: float) -> None:
    ours = fh.wilson_interval(x, n, alpha)
    low, high = proportion_confint(x, n, alpha=alpha, method="wilson")
    assert close(ours.low, low)
    assert close(ours.high, high)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mean_interval_from_sums_matches_statsmodels(alpha: float) -> None:
    values = np.random.default_rng(7).lognormal(0.0, 0.8, size=1234)
    n, total, squares = sums(values)
    mean, variance = fh.mean_and_variance(n, total, squares)
    ours = fh.mean_interval(mean, variance, n, alpha)
    low, high = DescrStatsW(values).tconfint_mean(alpha=alpha)
    assert close(ours.low, low)
    assert close(ours.high, high)


@pytest.mark.parametrize(
    "p_values",
    [
        [0.01, 0.04, 0.03],
        [0.2, 0.001, 0.5, 0.04, 0.049],
        [0.9],
        [1e-12, 0.7, 0.7, 0.02],
    ],
)
def test_holm_matches_statsmodels(p_values: list[float]) -> None:
    reference = multipletests(p_values, alpha=0.05, method="holm")[1]
    for ours, theirs in zip(fh.holm(p_values), reference, strict=True):
        assert close(ours, float(theirs))


@pytest.mark.parametrize(
    ("observed", "shares"),
    [
        ([5030, 4970], [0.5, 0.5]),
        ([5200, 4800], [0.5, 0.5]),
        ([900, 2050, 7050], [0.1, 0.2, 0.7]),
        ([10, 30], [1, 3]),
    ],
)
def test_sample_ratio_check_matches_scipy_chisquare(
    observed: list[int], shares: list[float]
) -> None:
    total = sum(observed)
    expected = [total * s / sum(shares) for s in shares]
    reference = stats.chisquare(observed, expected)
    statistic, p = fh.srm_test(observed, shares)
    assert close(statistic, float(reference.statistic))
    assert close(p, float(reference.pvalue))


@pytest.mark.parametrize(
    ("diff", "base", "ratio"), [(0.01, 0.8, 1), (-0.02, 0.3, 2), (0.05, 0.5, 0.5)]
)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_proportion_sample_size_matches_statsmodels(
    diff: float, base: float, ratio: float, alpha: float
) -> None:
    ours = proportion_sample_size(diff, base, alpha, 0.8, ratio)
    theirs = samplesize_proportions_2indep_onetail(diff, base, 0.8, ratio=ratio, alpha=alpha)
    assert close(ours, float(theirs))


@pytest.mark.parametrize(("sd0", "sd1", "ratio"), [(1.0, 1.0, 1), (2.0, 1.5, 3)])
def test_mean_sample_size_matches_statsmodels(sd0: float, sd1: float, ratio: float) -> None:
    ours = mean_sample_size(0.1, sd0, sd1, 0.05, 0.9, ratio)
    std = math.sqrt(sd1**2 + sd0**2 / ratio)
    theirs = normal_sample_size_one_tail(0.1, 0.9, 0.025, std_null=std)
    assert close(ours, float(theirs))


@pytest.mark.parametrize(
    ("difference", "variance", "tau2"), [(0.01, 1e-4, 2e-4), (-0.3, 0.02, 0.5)]
)
def test_mixture_likelihood_ratio_equals_the_integral_over_the_prior(
    difference: float, variance: float, tau2: float
) -> None:
    def integrand(delta: float) -> float:
        ratio = stats.norm.pdf(difference, delta, math.sqrt(variance)) / stats.norm.pdf(
            difference, 0.0, math.sqrt(variance)
        )
        return float(ratio * stats.norm.pdf(delta, 0.0, math.sqrt(tau2)))

    scale = math.sqrt(tau2)
    value, _ = integrate.quad(integrand, -40 * scale, 40 * scale, epsabs=0, epsrel=1e-13, limit=400)
    assert close(float(sq.log_likelihood_ratio(difference, variance, tau2)), math.log(value))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_confidence_sequence_is_the_inverted_mixture_test(alpha: float) -> None:
    variance, tau2 = 3e-5, sq.mixture_variance(0.01, alpha)
    half = float(sq.half_width(variance, tau2, alpha))
    # at the boundary the mixture likelihood ratio is exactly 1 / alpha
    assert close(float(sq.log_likelihood_ratio(half, variance, tau2)), math.log(1 / alpha))
    assert float(sq.log_likelihood_ratio(half * 0.99, variance, tau2)) < math.log(1 / alpha)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mixture_is_tuned_to_be_narrowest_where_the_effect_would_be_decided(alpha: float) -> None:
    mde = 0.02
    tau2 = sq.mixture_variance(mde, alpha)
    ratio = sq.optimal_ratio(alpha)
    assert close(ratio, 2 * math.log(1 / alpha) + math.log1p(ratio))
    variance = tau2 / ratio
    # a difference of the minimum detectable effect is decided exactly there
    assert close(float(sq.half_width(variance, tau2, alpha)), mde)
    # and no other mixing variance gives a narrower boundary at that moment
    for factor in (0.5, 0.8, 0.95, 1.05, 1.25, 2.0):
        assert float(sq.half_width(variance, tau2 * factor, alpha)) > mde


def test_sequential_sample_size_is_where_the_sequence_narrows_to_the_effect() -> None:
    n = sequential_sample_size(0.01, 0.16, 0.16, 0.05)
    tau2 = sq.mixture_variance(0.01, 0.05)
    assert (
        float(sq.half_width(0.32 / n, tau2, 0.05))
        <= 0.01
        < float(sq.half_width(0.32 / (n - 1), tau2, 0.05))
    )
    fixed = proportion_sample_size(0.01, 0.8, 0.05)
    assert fixed < n < 3 * fixed  # the price of looking at any time, within reason


def test_sequential_state_keeps_the_running_intersection_and_the_largest_ratio() -> None:
    tau2 = sq.mixture_variance(0.01, 0.05)
    state = sq.SequentialState()
    state = state.look(0.02, 4e-5, tau2, 0.05)
    first = (state.low, state.high, state.max_log_lr)
    state = state.look(0.0, 1e-5, tau2, 0.05)
    assert state.low == max(first[0], -float(sq.half_width(1e-5, tau2, 0.05)))
    assert state.high == min(first[1], float(sq.half_width(1e-5, tau2, 0.05)))
    assert state.max_log_lr == first[2]
    assert state.looks == 2
    unusable = state.look(0.1, 0.0, tau2, 0.05)
    assert (unusable.low, unusable.high, unusable.looks) == (state.low, state.high, 3)
    assert sq.SequentialState.from_json(state.to_json()) == state
    with pytest.raises(ValueError):
        sq.SequentialState.from_json({"max_log_lr": "nan", "looks": 1})
