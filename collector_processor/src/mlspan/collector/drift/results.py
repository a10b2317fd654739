"""Drift and validation results shared with alerting and the Prometheus exporter.

This module is a cross-team contract: the drift engine produces these values,
the alerts component consumes them through :class:`ResultsListener`, and the
metrics exporter reads the engine's latest results at scrape time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class MetricResult:
    """One drift statistic for one feature."""

    name: str
    """Metric name, e.g. "wasserstein_sigma", "psi", "ks", "js", "hellinger"."""
    value: float
    threshold: float | None
    """Decision threshold applied, None if the metric is informational."""
    p_value: float | None
    """None where the sample sizes make a p-value meaningless."""
    drifted: bool


@dataclass(frozen=True)
class FeatureDrift:
    """Drift decision for one feature (an input or a prediction)."""

    feature: str
    kind: str
    """A ``FeatureKind`` value."""
    origin: str
    """A ``FeatureOrigin`` value (input / prediction)."""
    metrics: tuple[MetricResult, ...]
    drifted: bool
    insight: str
    """One line for people, e.g. "age: mean +34 % (accepted 10 %), W/sigma 0.41 -> drift"."""
    baseline_count: int
    current_count: int


@dataclass(frozen=True)
class ModelKey:
    """Identifies the model whose inputs and predictions are compared."""

    service: str
    model_name: str
    model_version: str


@dataclass(frozen=True)
class DatasetDrift:
    """Drift of all features of one model over one current window."""

    key: ModelKey
    window_start: float
    """Unix seconds."""
    window_end: float
    features: tuple[FeatureDrift, ...]
    drifted_share: float
    drifted: bool
    insight: str


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of one data-validation check."""

    key: ModelKey
    feature: str
    """Empty for dataset-level checks."""
    check: str
    """"missing_column", "extra_column", "type_change", "null_rate", "range",
    "unseen_categories" or "metric_change:<name>"."""
    passed: bool
    observed: float | str
    limit: float | str
    insight: str


class ResultsListener(Protocol):
    """Receives every newly computed drift result with its validation results."""

    def on_results(self, drift: DatasetDrift, validation: Sequence[ValidationResult]) -> None: ...
