"""Rule evaluation: which alert instances a result makes active.

Functions here are pure: given the rules and one result (a model's drift with its
validation, or the current ingest drop rates) they return the active instances as
``Candidate`` values. ``AlertTracker`` turns changes in that set into firing and
resolved transitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlspan.collector.alerts.config import AlertRuleConfig, RuleKind
from mlspan.collector.drift.results import (
    DatasetDrift,
    FeatureDrift,
    ModelKey,
    ValidationResult,
)


@dataclass(frozen=True)
class Candidate:
    """An alert instance that should be firing now."""

    rule: AlertRuleConfig
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    insight: str


def drift_candidates(
    rules: Sequence[AlertRuleConfig],
    drift: DatasetDrift,
    validation: Sequence[ValidationResult],
) -> list[Candidate]:
    """Active instances of the drift and validation rules for ``drift.key``'s model."""
    found: list[Candidate] = []
    for rule in rules:
        if rule.models and drift.key.model_name not in rule.models:
            continue
        if rule.kind is RuleKind.DATASET_DRIFT:
            fired = (
                drift.drifted if rule.threshold is None else drift.drifted_share >= rule.threshold
            )
            if fired:
                summary = (
                    f"{drift.key.model_name} {drift.key.model_version}: "
                    f"{drift.drifted_share:.0%} of features drifted"
                )
                found.append(_candidate(rule, drift.key, {}, summary, drift.insight))
        elif rule.kind is RuleKind.FEATURE_DRIFT:
            found += _feature_candidates(rule, drift)
        elif rule.kind is RuleKind.VALIDATION_FAILURE:
            found += _validation_candidates(rule, drift.key, validation)
    return found


def ingest_candidates(
    rules: Sequence[AlertRuleConfig], drop_rates: Mapping[str, float]
) -> list[Candidate]:
    """Active instances of the ingest rules, given spans dropped per second by reason."""
    found: list[Candidate] = []
    for rule in rules:
        if rule.kind is not RuleKind.INGEST_DROPS:
            continue
        limit = rule.threshold or 0.0
        for reason, rate in sorted(drop_rates.items()):
            if rate > limit:
                insight = f"spans dropped ({reason}): {rate:.3g}/s (limit {limit:g}/s)"
                labels = {"alertname": rule.name, "severity": rule.severity, "reason": reason}
                found.append(Candidate(rule, labels, _annotations(rule, insight, insight), insight))
    return found


def _feature_candidates(rule: AlertRuleConfig, drift: DatasetDrift) -> list[Candidate]:
    found: list[Candidate] = []
    for feature in drift.features:
        if rule.features and feature.feature not in rule.features:
            continue
        if rule.metric:
            value = _metric_fired(rule, feature)
            if value is None:
                continue
            summary = f"{feature.feature}: {rule.metric} {value:.3g}"
            extra = {"feature": feature.feature, "metric": rule.metric}
        elif feature.drifted:
            summary = f"{feature.feature} drifted"
            extra = {"feature": feature.feature}
        else:
            continue
        found.append(_candidate(rule, drift.key, extra, summary, feature.insight))
    return found


def _metric_fired(rule: AlertRuleConfig, feature: FeatureDrift) -> float | None:
    """The metric's value when it reaches the rule's (or its own) threshold, else None."""
    for metric in feature.metrics:
        if metric.name != rule.metric:
            continue
        threshold = rule.threshold if rule.threshold is not None else metric.threshold
        fired = metric.drifted if threshold is None else metric.value >= threshold
        return metric.value if fired else None
    return None


def _validation_candidates(
    rule: AlertRuleConfig, key: ModelKey, validation: Sequence[ValidationResult]
) -> list[Candidate]:
    found: list[Candidate] = []
    for result in validation:
        if result.passed or result.key != key:
            continue
        if rule.features and result.feature not in rule.features:
            continue
        if rule.checks and not any(
            result.check == check or result.check.startswith(f"{check}:") for check in rule.checks
        ):
            continue
        extra = {"check": result.check}
        if result.feature:
            extra["feature"] = result.feature
        where = f"{result.feature}: " if result.feature else ""
        summary = f"{where}{result.check} failed ({result.observed} vs limit {result.limit})"
        found.append(_candidate(rule, key, extra, summary, result.insight))
    return found


def _candidate(
    rule: AlertRuleConfig,
    key: ModelKey,
    extra: Mapping[str, str],
    summary: str,
    insight: str,
) -> Candidate:
    labels = {
        "alertname": rule.name,
        "severity": rule.severity,
        "service": key.service,
        "model": key.model_name,
        "version": key.model_version,
        **extra,
    }
    return Candidate(rule, labels, _annotations(rule, summary, insight), insight)


def _annotations(rule: AlertRuleConfig, summary: str, insight: str) -> dict[str, str]:
    annotations = {"summary": summary, "insight": insight}
    if rule.description:
        annotations["description"] = rule.description
    return annotations
