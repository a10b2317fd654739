"""Insights a person can act on, and the decision presets that produce them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.config import DriftConfig
from mlspan.collector.drift.decision import FeatureInput, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import FeatureDrift, ModelKey
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass
from mlspan.collector.validation.config import parse_validation_config
from mlspan.summaries import CategoricalSummary, NumericalSummary

KEY = ModelKey("svc", "model", "v1")


def numerical(a: np.ndarray, b: np.ndarray, limits: DriftThresholds | None = None) -> FeatureDrift:
    comparison = compare_numerical(
        NumericalProfile.of(NumericalSummary.from_values(a)),
        NumericalProfile.of(NumericalSummary.from_values(b)),
    )
    limits = limits or DriftThresholds()
    item = FeatureInput("x", "input", comparison, limits)
    return judge_dataset(KEY, (0.0, 1.0), [item], limits).features[0]


def categorical(
    before: dict[str, int], after: dict[str, int], limits: DriftThresholds | None = None
) -> FeatureDrift:
    comparison = compare_categorical(
        CategoricalSummary.from_counts(before), CategoricalSummary.from_counts(after)
    )
    limits = limits or DriftThresholds()
    item = FeatureInput("plan", "input", comparison, limits)
    return judge_dataset(KEY, (0.0, 1.0), [item], limits).features[0]


def test_no_percentage_for_a_mean_near_zero() -> None:
    # The case that read "mean +35,078 % (+0.25 sigma)".
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, 20_000)
    a += 0.0007 - a.mean()
    drift = numerical(a, rng.normal(0.25, 1.0, 20_000))
    assert drift.drifted
    assert re.match(r"x: mean \+0\.2\d sigma, W/sigma 0\.2\d >= 0\.10", drift.insight)
    assert "%" not in drift.insight


def test_numerical_insight_names_test_effect_and_most_shifted_quantiles() -> None:
    rng = np.random.default_rng(2)
    drift = numerical(rng.normal(100.0, 10.0, 20_000), rng.normal(100.0, 15.0, 20_000))
    assert drift.drifted
    # The mean barely moved: the spread did, and the insight says where.
    assert drift.insight.startswith("x: mean ")
    assert re.search(r"KS D 0\.\d\d >= 0\.05", drift.insight)
    assert re.search(r"KS p=\S+ \(bh, n=20000\)", drift.insight)
    assert re.search(r"most shifted p(1|99) \S+ -> \S+, p(1|99) ", drift.insight)
    assert drift.insight.endswith("-> drift")


def test_values_near_1e9_are_written_with_the_digits_that_differ() -> None:
    rng = np.random.default_rng(3)
    drift = numerical(rng.normal(1e9, 1.0, 20_000), rng.normal(1e9 + 0.3, 1.0, 20_000))
    assert drift.drifted and "%" not in drift.insight
    quantile = re.search(r"most shifted p\d+ ([-\d.e+]+) -> ([-\d.e+]+)", drift.insight)
    assert quantile is not None
    assert float(quantile.group(2)) - float(quantile.group(1)) == pytest.approx(0.3, abs=0.1)


def test_category_insight_names_the_shares_that_moved() -> None:
    drift = categorical(
        {"a": 800, "b": 600, "c": 400, "d": 200}, {"a": 600, "b": 600, "c": 500, "d": 300}
    )
    assert drift.drifted
    assert drift.insight.startswith("plan: share of `a` 40 % -> 30 %, ")
    assert "L-inf 0.10 >= 0.05" in drift.insight and "chi2 p=" in drift.insight
    new = categorical({"a": 900, "b": 900}, {"a": 800, "b": 800, "new": 200})
    assert new.insight.startswith("plan: share of `new` 0 % -> 11 % (unseen)")


def test_insight_says_why_a_feature_did_not_drift() -> None:
    big = categorical({"a": 400_000, "b": 600_000}, {"a": 390_000, "b": 610_000})
    assert not big.drifted and big.insight.endswith("no drift (below every materiality floor)")
    small = categorical({"a": 20, "b": 30}, {"a": 30, "b": 20})
    assert not small.drifted and small.insight.endswith("no drift (not significant)")


def test_the_evidently_preset_keeps_its_blind_spot() -> None:
    before, after = (
        {"a": 8_000, "b": 6_000, "c": 4_000, "d": 2_000},
        {
            "a": 6_000,
            "b": 6_000,
            "c": 5_000,
            "d": 3_000,
        },
    )
    assert categorical(before, after).drifted
    evidently = categorical(before, after, DriftThresholds(preset="evidently"))
    assert not evidently.drifted and "JS 0.09 < 0.10" in evidently.insight


def test_presets_from_yaml_and_validation_json() -> None:
    config = parse_dataclass(
        DriftConfig, {"thresholds": {"preset": "evidently", "alpha": 0.01}}, "connectors.drift"
    )
    limits = config.thresholds
    assert (limits.preset, limits.correction, limits.ks, limits.linf) == (
        "evidently",
        "none",
        None,
        None,
    )
    assert limits.alpha == 0.01 and limits.js == 0.1
    default = DriftThresholds()
    assert (default.ks, default.linf, default.correction) == (0.05, 0.05, "bh")
    # A per-model JSON switches the preset; fields the preset does not govern are kept.
    model = parse_validation_config({"drift": {"preset": "evidently"}}, "churn.json", default)
    assert model.drift.preset == "evidently" and model.drift.linf is None
    back = parse_validation_config(
        {"drift": {"preset": "mlspan", "ks": 0.08}}, "churn.json", limits
    )
    assert back.drift.ks == 0.08 and back.drift.linf == 0.05 and back.drift.alpha == 0.01
    with pytest.raises(ConfigError, match=r"thresholds: preset: must be one of mlspan, evidently"):
        parse_dataclass(DriftConfig, {"thresholds": {"preset": "strict"}}, "connectors.drift")
    with pytest.raises(ConfigError, match=r"churn\.json\.drift\.preset"):
        parse_validation_config({"drift": {"preset": 3}}, "churn.json")
