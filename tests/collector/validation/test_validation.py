"""Validation config parsing, schema checks, summary-metric benchmarks and the identifier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlspan.collector.drift.results import ModelKey, ValidationResult
from mlspan.collector.pipeline.factory import ConfigError
from mlspan.collector.validation.checks import validate
from mlspan.collector.validation.config import (
    ValidationConfig,
    load_validation_config,
    parse_validation_config,
)
from mlspan.collector.validation.format import reclassify, target_kind
from mlspan.semconv.values import FeatureKind
from mlspan.summaries import NumericalSummary
from tests.collector.drift.batches import categorical, numerical

KEY = ModelKey("svc", "churn", "v1")
EXAMPLE = {
    "feature_types": {"zip": "categorical", "id": "ignore"},
    "cardinality": {"max_categories": 20},
    "schema": {
        "infer": True,
        "allow_extra_columns": False,
        "null_rate_tolerance": 0.02,
        "columns": {
            "age": {"type": "numerical", "max_null_rate": 0.01, "min": 0, "max": 120},
            "plan": {"allowed": ["basic", "plus"], "max_unseen_share": 0.05},
        },
    },
    "accepted_change": {"mean": 10, "std": 25},
    "accepted_change_sigma": 0.1,
    "drift": {"wasserstein_sigma": 0.15, "correction": "holm"},
    "features": {"age": {"accepted_change": {"mean": 5}, "drift": {"psi": 0.3}}},
}


def by_check(results: list[ValidationResult]) -> dict[tuple[str, str], ValidationResult]:
    return {(r.feature, r.check): r for r in results}


def test_a_full_config_parses_with_per_feature_overrides(tmp_path: Path) -> None:
    path = tmp_path / "churn.json"
    path.write_text(json.dumps(EXAMPLE))
    config = load_validation_config(path)
    assert config.feature_types == {"zip": "categorical", "id": "ignore"}
    assert config.max_categories == 20
    assert config.schema.columns["age"].max == 120.0
    assert config.schema.columns["plan"].allowed == ("basic", "plus")
    assert config.accepted_for("age") == {"mean": 5.0, "std": 25.0}
    assert config.accepted_for("income") == {"mean": 10.0, "std": 25.0}
    age = config.thresholds_for("age")
    assert age.psi == 0.3 and age.wasserstein_sigma == 0.15 and age.correction == "holm"
    assert config.thresholds_for("income").psi == 0.2


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"colums": {}}, "validation: unknown key 'colums'"),
        ({"schema": {"columns": {"age": {"typ": "numerical"}}}}, "schema.columns.age: unknown key"),
        ({"schema": {"columns": {"age": {"type": "float"}}}}, "schema.columns.age.type"),
        ({"schema": {"columns": {"age": {"max_null_rate": 2}}}}, "columns.age.max_null_rate"),
        ({"schema": {"infer": "yes"}}, "schema.infer"),
        ({"accepted_change": {"average": 3}}, "accepted_change: unknown key 'average'"),
        ({"accepted_change": {"mean": -3}}, "accepted_change.mean"),
        ({"drift": {"psi": "high"}}, "drift.psi"),
        ({"drift": {"correction": "bonferroni"}}, "drift.correction"),
        ({"features": {"age": {"drift": {"jsd": 0.1}}}}, "features.age.drift: unknown key 'jsd'"),
        ({"feature_types": {"age": "text"}}, "feature_types.age"),
        ({"cardinality": {"max_categories": 0}}, "cardinality.max_categories"),
    ],
)
def test_a_bad_config_is_rejected_naming_the_key(patch: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_validation_config(patch)
    assert named in str(caught.value)


def test_schema_checks_inferred_from_the_baseline() -> None:
    rng = np.random.default_rng(1)
    baseline = {
        "age": numerical("age", rng.normal(40, 10, 5_000)),
        "plan": categorical("plan", rng.choice(["basic", "plus"], 5_000)),
        "income": numerical("income", rng.normal(5e4, 1e4, 5_000)),
    }
    current = {
        "age": numerical("age", np.concatenate([rng.normal(40, 10, 900), np.full(100, 200.0)])),
        "plan": categorical("plan", rng.choice(["basic", "plus", "gold"], 1_000)),
        "extra": numerical("extra", rng.normal(size=1_000)),
    }
    results = by_check(validate(KEY, baseline, current, ValidationConfig()))
    assert not results[("income", "missing_column")].passed
    assert results[("age", "missing_column")].passed
    assert not results[("extra", "extra_column")].passed
    age_range = results[("age", "range")]
    assert not age_range.passed and age_range.observed == pytest.approx(0.1, abs=0.02)
    assert "outside [" in age_range.insight and age_range.insight.endswith("-> fail")
    unseen = results[("plan", "unseen_categories")]
    assert not unseen.passed and "e.g. gold" in unseen.insight
    assert results[("age", "type_change")].passed


def test_explicit_schema_type_change_null_rate_and_allowed_categories() -> None:
    rng = np.random.default_rng(2)
    config = parse_validation_config(EXAMPLE)
    baseline = {"age": numerical("age", rng.normal(40, 10, 2_000))}
    age_as_text = categorical("age", rng.choice(["30", "40", "x"], 1_000))
    current = {
        "age": age_as_text,
        "plan": categorical("plan", rng.choice(["basic", "plus", "pro"], 1_000, p=[0.5, 0.4, 0.1])),
    }
    results = by_check(validate(KEY, baseline, current, config))
    change = results[("age", "type_change")]
    assert not change.passed
    assert change.observed == "categorical (object)" and change.limit == "numerical (float64)"
    assert not results[("plan", "unseen_categories")].passed
    nulls = {"age": numerical("age", np.concatenate([rng.normal(40, 10, 950), [np.nan] * 50]))}
    rate = by_check(validate(KEY, baseline, nulls, config))[("age", "null_rate")]
    assert not rate.passed and rate.observed == pytest.approx(0.05) and rate.limit == 0.01
    assert rate.insight == "age: null rate 5.0% (limit 1.0%) -> fail"


def test_metric_change_benchmark_with_its_standardised_companion() -> None:
    rng = np.random.default_rng(3)
    config = parse_validation_config({"accepted_change": {"mean": 10, "std": 25, "null_rate": 1}})
    zero_mean = rng.normal(0, 1, 20_000)
    baseline = {
        "age": numerical("age", rng.normal(40, 10, 20_000)),
        "signal": numerical("signal", zero_mean - zero_mean.mean()),
    }
    current = {
        "age": numerical("age", rng.normal(53.6, 10, 20_000)),
        "signal": numerical("signal", rng.normal(0.05, 1, 20_000)),
    }
    results = by_check(validate(KEY, baseline, current, config))
    age = results[("age", "metric_change:mean")]
    assert not age.passed and age.limit == 10.0
    assert age.insight.startswith("age: mean +34 % (accepted 10 %), +1.3")
    signal = results[("signal", "metric_change:mean")]
    assert abs(float(signal.observed)) > 1000  # a huge percentage around a zero mean ...
    assert signal.passed  # ... passes because the change is under 0.1 sigma
    assert results[("age", "metric_change:std")].passed
    assert results[("age", "metric_change:null_rate")].passed


def test_data_format_identifier_by_override_and_cardinality() -> None:
    rng = np.random.default_rng(4)
    rating = numerical("rating", rng.integers(1, 6, 150).astype(float))
    assert target_kind(rating, None, 10) == "categorical"
    as_categories = reclassify(rating, "categorical")
    assert as_categories.kind is FeatureKind.CATEGORICAL
    assert sum(as_categories.stats.counts.values()) == 150
    assert set(as_categories.stats.counts) <= {"1", "2", "3", "4", "5"}
    codes = categorical("code", [str(v) for v in rng.integers(0, 500, 3_000)])
    assert target_kind(codes, None, 50) == "numerical"
    numeric = reclassify(codes, "numerical")
    assert isinstance(numeric.stats, NumericalSummary) and numeric.stats.moments.count == 3_000
    plan = categorical("plan", ["a", "b"] * 50)
    assert target_kind(plan, "numerical", None) == "numerical"
    assert reclassify(plan, "numerical") is plan  # labels are not numbers: left as it is
    big = numerical("big", rng.normal(size=50_000))
    assert target_kind(big, None, 10) is None  # the sketch no longer holds every value
