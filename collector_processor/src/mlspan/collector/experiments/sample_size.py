"""How many outcomes an experiment needs to detect its minimum detectable effect.

``fixed_sample_size`` is the classic normal-approximation count for a two-sided test at
level ``alpha`` with ``power``, ignoring the far tail (statsmodels'
``normal_sample_size_one_tail`` at ``alpha / 2``): for rates with the null variance at
the pooled rate and the alternative variance at the two rates
(``samplesize_proportions_2indep_onetail``), for means with both standard deviations.
The count is the challenger's; the control gets ``ratio`` times as many.

``sequential_sample_size`` is the count at which the always-valid confidence sequence
(``sequential``) is narrow enough that an observed difference of the minimum detectable
effect would decide the comparison: the horizon a sequential experiment is planned
against. It is longer than the fixed count, the price of being allowed to look at any
time.
"""

from __future__ import annotations

import math

from scipy import special

from mlspan.collector.experiments.sequential import half_width, mixture_variance

DEFAULT_POWER = 0.8


def normal_sample_size(
    difference: float, power: float, alpha_one_tail: float, std_null: float, std_alt: float
) -> float:
    """``((z_alpha * std_null + z_power * std_alt) / difference) ** 2`` (0 when negative)."""
    crit = float(special.ndtri(1 - alpha_one_tail))
    crit_power = float(special.ndtri(1 - power))
    return (max(crit * std_null - crit_power * std_alt, 0.0) / difference) ** 2


def proportion_sample_size(
    difference: float, baseline: float, alpha: float, power: float = DEFAULT_POWER, ratio: float = 1
) -> float:
    """Challenger outcomes needed to detect ``baseline + difference`` against
    ``baseline`` (the control gets ``ratio`` times as many)."""
    treated = baseline + difference
    pooled = (treated + baseline * ratio) / (1 + ratio)
    std_null = math.sqrt(pooled * (1 - pooled) + pooled * (1 - pooled) / ratio)
    std_alt = math.sqrt(treated * (1 - treated) + baseline * (1 - baseline) / ratio)
    return normal_sample_size(difference, power, alpha / 2, std_null, std_alt)


def mean_sample_size(
    difference: float,
    std_control: float,
    std_treated: float,
    alpha: float,
    power: float = DEFAULT_POWER,
    ratio: float = 1,
) -> float:
    """Challenger outcomes needed to detect a mean shift of ``difference``."""
    std = math.sqrt(std_treated**2 + std_control**2 / ratio)
    return normal_sample_size(difference, power, alpha / 2, std, std)


def sequential_sample_size(
    difference: float,
    variance_control: float,
    variance_treated: float,
    alpha: float,
    ratio: float = 1,
) -> float:
    """Challenger outcomes at which the confidence sequence's half-width (level
    ``alpha``, tuned for ``difference``) falls to ``difference``."""
    tau2 = mixture_variance(difference, alpha)
    per_outcome = variance_treated + variance_control / ratio
    if not per_outcome > 0:
        return math.nan
    low, high = 1.0, 2.0
    while float(half_width(per_outcome / high, tau2, alpha)) > difference:
        low, high = high, high * 2
        if high > 1e15:
            return math.inf
    for _ in range(100):
        middle = (low + high) / 2
        if float(half_width(per_outcome / middle, tau2, alpha)) > difference:
            low = middle
        else:
            high = middle
        if high - low < 0.5:
            break
    return high
