"""Performance rule evaluation: which alert instances a model version's result makes active.

A ``performance`` rule compares one metric of the version's merged result (all its
prediction windows) with an absolute ``threshold`` (a floor; a ceiling for the error
metrics, where lower is better) and/or with the version's validation score: it fires
when the metric is more than ``max_drop`` (a relative share) below it. A metric that
cannot be computed yet (NaN) fires nothing. A ``concept_drift`` rule fires while the
version's concept-drift detector's latest alarm stands, with the alarm's insight (what
changed, from which window, by how much). Pure functions, as in ``rules``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from mlspan.collector.alerts.config import AlertRuleConfig, RuleKind
from mlspan.collector.alerts.rules import Candidate
from mlspan.collector.performance.results import VersionResult
from mlspan.semconv.values import PerformanceTask

LOWER_IS_BETTER: Final = frozenset({"log_loss", "brier", "calibration_error", "mae", "rmse"})
"""Metrics whose ``threshold`` is a ceiling."""
DEFAULT_METRIC: Final = "accuracy"


def performance_candidates(
    rules: Sequence[AlertRuleConfig], result: VersionResult
) -> list[Candidate]:
    """Active instances of the performance rules for ``result``'s model version."""
    found: list[Candidate] = []
    for rule in rules:
        if rule.kind is RuleKind.CONCEPT_DRIFT:
            found += _concept_candidates(rule, result)
            continue
        if rule.kind is not RuleKind.PERFORMANCE:
            continue
        if rule.models and result.key.model not in rule.models:
            continue
        metric = rule.metric or DEFAULT_METRIC
        value = result.metrics.get(metric, math.nan)
        if not math.isfinite(value):
            continue
        reasons = _breaches(rule, metric, value, result.validation_score)
        if not reasons:
            continue
        key = result.key
        summary = f"{key.model} {key.version}: {metric} {value:.4g} ({'; '.join(reasons)})"
        insight = (
            f"{metric} of {key.model} version {key.version} over {result.count} labelled"
            f" predictions is {value:.4g}: {'; '.join(reasons)}"
        )
        if result.coverage is not None:
            insight += f" (label coverage {result.coverage:.0%})"
        labels = {
            "alertname": rule.name,
            "severity": rule.severity,
            "service": key.service,
            "model": key.model,
            "version": key.version,
            "metric": metric,
        }
        annotations = {"summary": summary, "insight": insight}
        if rule.description:
            annotations["description"] = rule.description
        found.append(Candidate(rule, labels, annotations, insight))
    return found


def _breaches(
    rule: AlertRuleConfig, metric: str, value: float, validation: float | None
) -> list[str]:
    reasons: list[str] = []
    if rule.threshold is not None:
        if metric in LOWER_IS_BETTER and value > rule.threshold:
            reasons.append(f"above the ceiling {rule.threshold:g}")
        elif metric not in LOWER_IS_BETTER and value < rule.threshold:
            reasons.append(f"below the floor {rule.threshold:g}")
    if rule.max_drop is not None and validation is not None and math.isfinite(validation):
        if metric in LOWER_IS_BETTER:
            limit = validation * (1 + rule.max_drop)
            worse = value > limit
        else:
            limit = validation - abs(validation) * rule.max_drop
            worse = value < limit
        if worse:
            change = (value - validation) / abs(validation) if validation else math.inf
            reasons.append(
                f"{change:+.1%} from the validation score {validation:.4g}"
                f" (allowed drop {rule.max_drop:.0%})"
            )
    return reasons


def _concept_candidates(rule: AlertRuleConfig, result: VersionResult) -> list[Candidate]:
    concept = result.concept
    if concept is None or concept.alarm is None:
        return []
    if rule.models and result.key.model not in rule.models:
        return []
    key, alarm = result.key, concept.alarm
    what = "mean absolute error" if alarm.task is PerformanceTask.REGRESSOR else "error rate"
    direction = "rose" if alarm.increased else "fell"
    insight = f"concept drift in {key.model} version {key.version}: {alarm.insight}"
    labels = {
        "alertname": rule.name,
        "severity": rule.severity,
        "service": key.service,
        "model": key.model,
        "version": key.version,
    }
    annotations = {"summary": f"{key.model} {key.version}: {what} {direction}", "insight": insight}
    if rule.description:
        annotations["description"] = rule.description
    return [Candidate(rule, labels, annotations, insight)]
