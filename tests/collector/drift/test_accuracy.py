"""Accuracy of drift statistics and decisions from summaries against exact tests on raw data.

Decisions are compared with the same rule applied to exact statistics of the raw data
(significant by scipy's two-sample test, material by exact Wasserstein/sigma, KS D, PSI
or JS against the default floors), and the clear cases also with the exact tests'
significance.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.comparison import Comparison
from mlspan.collector.drift.decision import FeatureInput, adjust_p_values, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.summaries import CategoricalSummary, NumericalSummary

Array = npt.NDArray[np.float64]
KEY = ModelKey("svc", "model", "v1")
LIMITS = DriftThresholds()
W_TOLERANCE = 0.06
"""KLL(200) sketches add a noise floor of about 0.01-0.04 sigma to W/sigma."""


def compare(a: Array, b: Array, k: int = 200) -> Comparison:
    reference = NumericalProfile.of(NumericalSummary.from_values(a, k=k))
    return compare_numerical(reference, NumericalProfile.of(NumericalSummary.from_values(b, k=k)))


def decide(comparison: Comparison) -> bool:
    result = judge_dataset(
        KEY, (0.0, 1.0), [FeatureInput("x", "input", comparison, LIMITS)], LIMITS
    )
    return result.features[0].drifted


def exact_psi(a: Array, b: Array) -> float:
    edges = np.unique(np.quantile(a, np.linspace(0.1, 0.9, 9)))
    p = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1) / a.size
    q = np.bincount(np.searchsorted(edges, b, side="right"), minlength=edges.size + 1) / b.size
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def exact_decision(a: Array, b: Array) -> bool:
    """The engine's rule (significant and material) on exact statistics of the raw data."""
    test = stats.ks_2samp(a, b)
    w_sigma = stats.wasserstein_distance(a, b) / a.std(ddof=1)
    material = w_sigma >= 0.1 or test.statistic >= 0.05 or exact_psi(a, b) >= 0.2
    return bool(test.pvalue < LIMITS.alpha and material)


def skewed_same_mean_median(rng: np.random.Generator, n: int) -> Array:
    """Mean 0, median 0, variance 1, but skewed: a linear left half, a squared right half."""
    z = rng.normal(size=n)
    a = np.sqrt(2 / (1 + 3 * (2 / np.pi)))
    b = a * np.sqrt(2 / np.pi)
    return np.where(z < 0, a * z, b * z * z)


def bimodal_same_mean_variance(rng: np.random.Generator, n: int) -> Array:
    """Mean 0, variance 1, two modes at +-0.9."""
    return rng.choice([-0.9, 0.9], size=n) + rng.normal(0.0, np.sqrt(1 - 0.81), size=n)


Shape = Callable[[np.random.Generator, int], Array]
CASES: dict[str, tuple[Shape, bool]] = {
    "identical": (lambda r, n: r.normal(size=n), False),
    "mean+0.2sigma": (lambda r, n: r.normal(0.2, 1.0, size=n), True),
    "mean+0.5sigma": (lambda r, n: r.normal(0.5, 1.0, size=n), True),
    "mean+1sigma": (lambda r, n: r.normal(1.0, 1.0, size=n), True),
    "variance x2.25": (lambda r, n: r.normal(0.0, 1.5, size=n), True),
    "skew, same mean+median": (skewed_same_mean_median, True),
    "bimodal, same mean+var": (bimodal_same_mean_variance, True),
}


@pytest.mark.parametrize("n", [10_000, 100_000])
@pytest.mark.parametrize("case", sorted(CASES))
def test_numerical_decisions_match_exact_statistics(case: str, n: int) -> None:
    shape, expected = CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}/{n}".encode()))
    a, b = rng.normal(size=n), shape(rng, n)
    comparison = compare(a, b)
    assert decide(comparison) == exact_decision(a, b) == expected
    if expected:
        assert stats.ks_2samp(a, b).pvalue < 1e-3  # the exact test sees it too
    exact_w = stats.wasserstein_distance(a, b) / a.std(ddof=1)
    assert comparison.values["wasserstein_sigma"] == pytest.approx(exact_w, abs=W_TOLERANCE)
    assert comparison.values["skew_change"] == pytest.approx(
        stats.skew(b) - stats.skew(a), abs=1e-6
    )
    assert comparison.values["kurtosis_change"] == pytest.approx(
        stats.kurtosis(b) - stats.kurtosis(a), abs=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["mean+0.2sigma", "variance x2.25", "skew, same mean+median", "bimodal, same mean+var"]
)
def test_numerical_decisions_match_exact_statistics_at_1e6_rows(case: str) -> None:
    shape, expected = CASES[case]
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    a, b = rng.normal(size=1_000_000), shape(rng, 1_000_000)
    comparison = compare(a, b)
    assert decide(comparison) == exact_decision(a, b) == expected
    assert stats.ks_2samp(a, b).pvalue < 1e-3


@pytest.mark.parametrize("case", ["identical", "mean+0.5sigma", "mean+1sigma", "variance x2.25"])
def test_small_samples_are_decided_by_the_sketch_aware_ks_test(case: str) -> None:
    shape, expected = CASES[case]
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=1000), shape(rng, 1000)
    comparison = compare(a, b)
    drift = judge_dataset(
        KEY, (0.0, 1.0), [FeatureInput("x", "input", comparison, LIMITS)], LIMITS
    ).features[0]
    ks = next(m for m in drift.metrics if m.name == "ks")
    assert ks.p_value is not None
    assert drift.drifted == exact_decision(a, b) == expected
    assert comparison.values["ks"] == pytest.approx(stats.ks_2samp(a, b).statistic, abs=0.01)


def test_mean_shift_of_a_tenth_sigma_is_measured_like_the_exact_statistic() -> None:
    rng = np.random.default_rng(3)
    for n in (1_000, 100_000):
        a, b = rng.normal(size=n), rng.normal(0.1, 1.0, size=n)
        comparison = compare(a, b)
        exact_w = stats.wasserstein_distance(a, b) / a.std(ddof=1)
        assert comparison.values["wasserstein_sigma"] == pytest.approx(exact_w, abs=W_TOLERANCE)
        assert comparison.values["mean_change_sigma"] == pytest.approx(
            (b.mean() - a.mean()) / a.std(ddof=1), rel=1e-9
        )
        welch = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert comparison.p_values["welch"] == pytest.approx(welch, rel=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_ks_statistic_from_summaries_is_within_001_of_exact_at_1e5_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=100_000)
    b = rng.normal([0.0, 0.1, 0.3, 1.0][seed % 4], 1.0, size=100_000)
    exact = stats.ks_2samp(a, b).statistic
    # Summaries of whole batches, at the default k=200 and at k=400.
    assert compare(a, b).values["ks"] == pytest.approx(exact, abs=0.01)
    assert compare(a, b, k=400).values["ks"] == pytest.approx(exact, abs=0.01)
    # Merged from 20 small batches, the sketches' own compactions add error: it stays
    # within their rank-error bound.
    merged = [
        functools.reduce(
            NumericalSummary.merge,
            (NumericalSummary.from_values(part) for part in np.array_split(sample, 20)),
        )
        for sample in (a, b)
    ]
    profiles = [NumericalProfile.of(summary) for summary in merged]
    bound = merged[0].rank_error + merged[1].rank_error
    assert compare_numerical(*profiles).values["ks"] == pytest.approx(exact, abs=bound)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_identical_distributions_at_1e6_rows_never_drift(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    a, b = rng.normal(size=1_000_000), rng.normal(size=1_000_000)
    comparison = compare(a, b)
    assert not decide(comparison)
    # The sketch-aware KS p-value cannot reject on sketch error alone.
    assert comparison.p_values["ks"] > 0.05
    assert comparison.values["wasserstein_sigma"] < 0.1


HEAVY_TAILS: dict[str, Shape] = {
    "lognormal sigma 1.5": lambda r, n: r.lognormal(0.0, 1.5, size=n),
    "student t, 2 df": lambda r, n: r.standard_t(2, size=n),
    "pareto 1.5": lambda r, n: r.pareto(1.5, size=n),
}


@pytest.mark.parametrize("shape", sorted(HEAVY_TAILS))
def test_identical_heavy_tailed_samples_do_not_drift(shape: str) -> None:
    # A compacted sketch cannot place the extreme values; W must not read that as drift.
    rng = np.random.default_rng(zlib.crc32(shape.encode()))
    draw = HEAVY_TAILS[shape]
    for _ in range(3):
        a, b = draw(rng, 200_000), draw(rng, 200_000)
        comparison = compare(a, b)
        assert not decide(comparison) and not exact_decision(a, b)
        assert comparison.values["wasserstein_sigma"] < 0.06


def test_heavy_tailed_scale_change_is_measured_like_the_exact_statistic() -> None:
    rng = np.random.default_rng(21)
    a, b = rng.lognormal(0, 1, 200_000), 1.3 * rng.lognormal(0, 1, 200_000)
    comparison = compare(a, b)
    exact_w = stats.wasserstein_distance(a, b) / a.std(ddof=1)
    assert comparison.values["wasserstein_sigma"] == pytest.approx(exact_w, abs=W_TOLERANCE)
    assert decide(comparison) and exact_decision(a, b)


def categorical_summary(values: npt.NDArray[np.str_]) -> CategoricalSummary:
    labels, counts = np.unique(values, return_counts=True)
    return CategoricalSummary.from_counts(
        {str(k): int(v) for k, v in zip(labels, counts, strict=True)}
    )


def exact_js(a: npt.NDArray[np.str_], b: npt.NDArray[np.str_]) -> float:
    labels = np.union1d(a, b)
    p = np.array([np.sum(a == c) for c in labels]) / a.size
    q = np.array([np.sum(b == c) for c in labels]) / b.size
    return float(stats.entropy(p, (p + q) / 2) / 2 + stats.entropy(q, (p + q) / 2) / 2) ** 0.5


@pytest.mark.parametrize("n", [1_000, 100_000])
@pytest.mark.parametrize(
    ("p_current", "expected"),
    [([0.5, 0.3, 0.2], False), ([0.3, 0.3, 0.4], True), ([0.2, 0.3, 0.5], True)],
)
def test_categorical_decisions_match_exact_tests(
    n: int, p_current: list[float], expected: bool
) -> None:
    rng = np.random.default_rng(n)
    a = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    b = rng.choice(["a", "b", "c"], size=n, p=p_current)
    comparison = compare_categorical(categorical_summary(a), categorical_summary(b))
    table = np.array([[np.sum(x == c) for c in ("a", "b", "c")] for x in (a, b)])
    exact_p = stats.chi2_contingency(table).pvalue
    assert comparison.p_values["chi2"] == pytest.approx(exact_p, rel=1e-9)
    assert comparison.values["js"] == pytest.approx(exact_js(a, b), abs=1e-9)
    material = exact_js(a, b) >= 0.1 or comparison.values["linf"] >= 0.05
    assert decide(comparison) == (exact_p < 0.05 and material) == expected


@pytest.mark.parametrize(("exponent", "expected"), [(1.1, False), (1.6, True)])
def test_high_cardinality_categories_compared_through_the_frequent_items_sketch(
    exponent: float, expected: bool
) -> None:
    rng = np.random.default_rng(17)
    labels = np.array([f"id{i:05d}" for i in range(5_000)])

    def draw(power: float) -> npt.NDArray[np.str_]:
        p = 1.0 / np.arange(1, labels.size + 1) ** power
        return rng.choice(labels, 200_000, p=p / p.sum())

    reference, current = categorical_summary(draw(1.1)), categorical_summary(draw(exponent))
    assert not reference.exact and not current.exact
    comparison = compare_categorical(reference, current)
    assert decide(comparison) == expected


def test_rare_categories_are_pooled_for_the_contingency_test() -> None:
    reference = CategoricalSummary.from_counts({"a": 500, "b": 480, "r1": 2, "r2": 1})
    current = CategoricalSummary.from_counts({"a": 490, "b": 495, "r3": 3})
    comparison = compare_categorical(reference, current)
    pooled = np.array([[500, 480, 3], [490, 495, 3]])
    assert comparison.p_values["chi2"] == pytest.approx(stats.chi2_contingency(pooled).pvalue)
    assert comparison.facts["unseen_share"] == pytest.approx(3 / 988)


def test_p_value_corrections_match_scipy() -> None:
    p = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5]
    assert adjust_p_values(p, "bh") == pytest.approx(list(stats.false_discovery_control(p)))
    holm = adjust_p_values(p, "holm")
    assert holm == pytest.approx([0.05, 0.12, 0.12, 0.4, 0.006, 0.5])
    assert adjust_p_values(p, "none") == p


def test_dataset_drift_is_the_share_of_drifted_features() -> None:
    rng = np.random.default_rng(11)
    base = rng.normal(size=(6, 20_000))
    shifts = [0.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    features = [
        FeatureInput(f"f{i}", "input", compare(base[i], rng.normal(s, 1.0, 20_000)), LIMITS)
        for i, s in enumerate(shifts)
    ]
    result = judge_dataset(KEY, (0.0, 1.0), features, LIMITS)
    assert [f.feature for f in result.features if f.drifted] == ["f3", "f4", "f5"]
    assert result.drifted_share == 0.5 and result.drifted
    stricter = DriftThresholds(dataset_share=0.6)
    assert not judge_dataset(KEY, (0.0, 1.0), features, stricter).drifted
    assert "3 of 6 features drifted" in result.insight


def test_small_sample_tests_are_corrected_across_features() -> None:
    rng = np.random.default_rng(5)
    features = [
        FeatureInput(f"f{i}", "input", compare(rng.normal(size=300), rng.normal(size=300)), LIMITS)
        for i in range(20)
    ]
    result = judge_dataset(KEY, (0.0, 1.0), features, LIMITS)
    raw = sorted(f.comparison.p_values["ks"] for f in features)
    ks = sorted(m.p_value for f in result.features for m in f.metrics if m.name == "ks")
    assert all(c >= r for c, r in zip(ks, raw, strict=True))
    assert not any(f.drifted for f in result.features)


def test_too_few_rows_are_not_judged() -> None:
    rng = np.random.default_rng(2)
    comparison = compare(rng.normal(size=500), rng.normal(3.0, 1.0, size=10))
    result = judge_dataset(
        KEY, (0.0, 1.0), [FeatureInput("x", "input", comparison, LIMITS)], LIMITS
    )
    assert not result.features[0].drifted
    assert "not judged" in result.features[0].insight
    assert result.drifted_share == 0.0


def test_insight_names_the_change_the_threshold_and_the_verdict() -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(40.0, 10.0, size=50_000)
    b = rng.normal(53.6, 10.0, size=50_000)
    item = FeatureInput("age", "input", compare(a, b), LIMITS, accepted_mean=10.0)
    insight = judge_dataset(KEY, (0.0, 1.0), [item], LIMITS).features[0].insight
    assert re.match(
        r"age: mean \+34 % \(accepted 10 %, \+1\.3\d sigma\), W/sigma 1\.3\d >= 0\.10", insight
    )
    assert insight.endswith("-> drift")
