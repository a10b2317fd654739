"""Real drift and validation result objects for the alert and metrics tests, a settable
clock, and OTLP/HTTP posting for the tests that run a collector."""

from __future__ import annotations

import urllib.request

from mlspan.collector.drift.results import (
    DatasetDrift,
    FeatureDrift,
    MetricResult,
    ModelKey,
    ValidationResult,
)

KEY = ModelKey("churn-service", "churn", "3")


def feature(name: str, w_sigma: float, psi: float, kind: str = "numerical") -> FeatureDrift:
    """A numerical feature judged on W/sigma >= 0.1 and PSI >= 0.2."""
    metrics = (
        MetricResult("wasserstein_sigma", w_sigma, 0.1, None, w_sigma >= 0.1),
        MetricResult("psi", psi, 0.2, None, psi >= 0.2),
        MetricResult("ks", w_sigma / 3, None, 0.5, False),
    )
    drifted = any(m.drifted for m in metrics)
    verdict = "drift" if drifted else "ok"
    return FeatureDrift(
        feature=name,
        kind=kind,
        origin="input",
        metrics=metrics,
        drifted=drifted,
        insight=f"{name}: W/sigma {w_sigma:.2f}, PSI {psi:.2f} -> {verdict}",
        baseline_count=10_000,
        current_count=2_000,
    )


def dataset(*features: FeatureDrift, key: ModelKey = KEY, level: float = 0.5) -> DatasetDrift:
    """A window whose dataset-drift decision is the share of drifted features >= level."""
    share = sum(f.drifted for f in features) / len(features) if features else 0.0
    return DatasetDrift(
        key=key,
        window_start=1_700_000_000.0,
        window_end=1_700_000_600.0,
        features=tuple(features),
        drifted_share=share,
        drifted=share >= level,
        insight=f"{key.model_name} {key.model_version}: {share:.0%} of features drifted",
    )


def check(
    feature_name: str, check_name: str, passed: bool, key: ModelKey = KEY
) -> ValidationResult:
    """A range-style check observed at 0.2 against a 0.05 limit when failing."""
    observed = 0.01 if passed else 0.2
    return ValidationResult(
        key=key,
        feature=feature_name,
        check=check_name,
        passed=passed,
        observed=observed,
        limit=0.05,
        insight=f"{feature_name}: {check_name} {observed:.0%} (limit 5 %)",
    )


def drifted_window() -> DatasetDrift:
    """age and income drifted, tenure did not: dataset drift at share 2/3."""
    return dataset(
        feature("age", 0.41, 0.35), feature("income", 0.15, 0.05), feature("tenure", 0.02, 0.01)
    )


def calm_window() -> DatasetDrift:
    """Nothing drifted."""
    return dataset(
        feature("age", 0.03, 0.01), feature("income", 0.02, 0.02), feature("tenure", 0.01, 0.0)
    )


class Clock:
    """A clock the test moves by hand (``now`` in unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def post_otlp(url: str, raw: bytes) -> None:
    """POST one protobuf export request to a collector's ``/v1/traces``; expect 200."""
    request = urllib.request.Request(
        url, data=raw, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
