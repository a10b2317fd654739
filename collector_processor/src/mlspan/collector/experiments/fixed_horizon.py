"""Fixed-horizon tests and intervals of an A/B/n experiment, from per-arm sums.

Every function works on what mergeable summaries hold: a count and a number of
successes for a rate (accuracy, error rate), a count, a sum and a sum of squares for a
mean (mean absolute error). They are the textbook tests, computed as scipy and
statsmodels compute them (the tests compare them on fixed inputs to 1e-9):

* ``two_proportion_test``: the pooled two-proportion z-test (statsmodels
  ``proportions_ztest``) with the unpooled Wald interval of the difference
  (``confint_proportions_2indep(method="wald")``);
* ``welch_test``: Welch's unequal-variance t-test (scipy ``ttest_ind_from_stats``
  with ``equal_var=False``) with its interval (statsmodels ``tconfint_diff``);
* ``wilson_interval`` and ``mean_interval``: one arm's rate (Wilson score) and mean
  (Student t) intervals;
* ``holm``: Holm's step-down adjustment of the n-1 comparisons with the control;
* ``srm_test``: the chi-square goodness-of-fit of the observed split against the
  designed one (sample ratio mismatch). Here the expected shares are known by design,
  so goodness of fit is the right test (unlike drift, where both sides are samples).

A p-value of these tests is valid once, at a sample size fixed in advance; looked at
again and again it is not (``bench/experiment_sequential.py`` measures how far off it
goes). Decisions come from ``sequential``. Functions accept floats or numpy arrays
(the benchmark evaluates thousands of looks at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

Number = Any
"""A float or a numpy array of floats (broadcast elementwise)."""


@dataclass(frozen=True)
class Comparison:
    """A difference (challenger minus control) with its test and interval."""

    difference: float
    low: float
    high: float
    statistic: float
    p_value: float


@dataclass(frozen=True)
class Interval:
    """One arm's estimate with its interval."""

    estimate: float
    low: float
    high: float


def normal_quantile(q: Number) -> Number:
    """The standard normal quantile (``scipy.stats.norm.ppf``)."""
    return special.ndtri(q)


def two_sided_normal_p(z: Number) -> Number:
    """Two-sided p-value of a standard normal statistic (``2 * norm.sf(|z|)``)."""
    return 2.0 * special.ndtr(-np.abs(z))


def two_proportion_z(
    successes_a: Number, count_a: Number, successes_b: Number, count_b: Number
) -> tuple[Number, Number]:
    """Pooled z statistic and two-sided p-value of rate ``a`` minus rate ``b``."""
    p_a = np.divide(successes_a, count_a)
    p_b = np.divide(successes_b, count_b)
    pooled = np.divide(np.add(successes_a, successes_b), np.add(count_a, count_b))
    variance = pooled * (1.0 - pooled) * (np.divide(1.0, count_a) + np.divide(1.0, count_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p_a - p_b) / np.sqrt(variance)
    return z, two_sided_normal_p(z)


def two_proportion_test(
    successes_a: int, count_a: int, successes_b: int, count_b: int, alpha: float
) -> Comparison:
    """Rate ``a`` minus rate ``b``: pooled z-test, Wald interval at ``1 - alpha``."""
    z, p = two_proportion_z(successes_a, count_a, successes_b, count_b)
    p_a, p_b = successes_a / count_a, successes_b / count_b
    half = float(normal_quantile(1 - alpha / 2)) * math.sqrt(
        p_a * (1 - p_a) / count_a + p_b * (1 - p_b) / count_b
    )
    diff = p_a - p_b
    return Comparison(diff, diff - half, diff + half, float(z), float(p))


def welch_t(
    mean_a: Number,
    variance_a: Number,
    count_a: Number,
    mean_b: Number,
    variance_b: Number,
    count_b: Number,
) -> tuple[Number, Number, Number]:
    """Welch's t statistic, its degrees of freedom and two-sided p-value (a minus b).

    ``variance_*`` are unbiased sample variances (``n - 1`` in the denominator).
    """
    se_a = np.divide(variance_a, count_a)
    se_b = np.divide(variance_b, count_b)
    total = se_a + se_b
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (np.subtract(mean_a, mean_b)) / np.sqrt(total)
        df = total**2 / (se_a**2 / (np.subtract(count_a, 1)) + se_b**2 / (np.subtract(count_b, 1)))
    return t, df, 2.0 * special.stdtr(df, -np.abs(t))


def welch_test(
    mean_a: float,
    variance_a: float,
    count_a: int,
    mean_b: float,
    variance_b: float,
    count_b: int,
    alpha: float,
) -> Comparison:
    """Mean ``a`` minus mean ``b``: Welch's t-test and interval at ``1 - alpha``."""
    t, df, p = welch_t(mean_a, variance_a, count_a, mean_b, variance_b, count_b)
    half = float(special.stdtrit(df, 1 - alpha / 2)) * math.sqrt(
        variance_a / count_a + variance_b / count_b
    )
    diff = mean_a - mean_b
    return Comparison(diff, diff - half, diff + half, float(t), float(p))


def wilson_interval(successes: int, count: int, alpha: float) -> Interval:
    """A rate with its Wilson score interval at ``1 - alpha``."""
    p = successes / count
    z = float(normal_quantile(1 - alpha / 2))
    z2 = z * z
    centre = (p + z2 / (2 * count)) / (1 + z2 / count)
    half = z / (1 + z2 / count) * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count))
    return Interval(p, centre - half, centre + half)


def mean_interval(mean: float, variance: float, count: int, alpha: float) -> Interval:
    """A mean with its Student-t interval at ``1 - alpha`` (unbiased ``variance``)."""
    half = float(special.stdtrit(count - 1, 1 - alpha / 2)) * math.sqrt(variance / count)
    return Interval(mean, mean - half, mean + half)


def mean_and_variance(count: float, total: float, squares: float) -> tuple[float, float]:
    """Mean and unbiased variance from a count, a sum and a sum of squares.

    The variance is clamped at 0: for values of one sign and tiny spread the difference
    of sums can round below it.
    """
    mean = total / count
    if count < 2:
        return mean, math.nan
    return mean, max(0.0, (squares - total * mean) / (count - 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (``multipletests(method="holm")``)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def srm_test(observed: Sequence[float], shares: Sequence[float]) -> tuple[float, float]:
    """Chi-square statistic and p-value of the observed split against the designed shares
    (``scipy.stats.chisquare(observed, total * shares)``)."""
    counts: npt.NDArray[np.float64] = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(shares, dtype=np.float64)
    expected = counts.sum() * expected / expected.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    return statistic, float(special.chdtrc(len(counts) - 1, statistic))
