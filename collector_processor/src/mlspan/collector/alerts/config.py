"""Configuration of the alerting component: rules and webhook receivers.

Example (collector YAML)::

    processors:
      alerts:
        evaluation_interval_seconds: 15
        rules:
          - {name: DatasetDrift, kind: dataset_drift, severity: warning}
          - {name: HighPsi, kind: feature_drift, metric: psi, threshold: 0.25}
          - {name: ValidationFailed, kind: validation_failure, checks: [range, null_rate]}
          - {name: ConceptDrift, kind: concept_drift}
          - {name: ExperimentAlert, kind: experiment, models: [churn-v4]}
          - {name: SpansDropped, kind: ingest_drops, threshold: 1.0}
        webhooks:
          - {name: oncall, url: "http://127.0.0.1:5001/hook"}
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from mlspan.collector.exporters.retry import RetryConfig
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuleKind(str, enum.Enum):
    """What a rule watches."""

    DATASET_DRIFT = "dataset_drift"
    """Per model: the dataset drifted (or its drifted share reached ``threshold``)."""
    FEATURE_DRIFT = "feature_drift"
    """Per feature: drifted (or ``metric`` reached ``threshold``)."""
    VALIDATION_FAILURE = "validation_failure"
    """Per failing validation check (optionally only ``checks``)."""
    INGEST_DROPS = "ingest_drops"
    """Per drop reason: spans dropped per second above ``threshold`` (default 0)."""
    PERFORMANCE = "performance"
    """Per model version: a performance ``metric`` (default ``accuracy``) worse than the
    ``threshold`` floor (a ceiling for error metrics: log loss, Brier, calibration error,
    MAE, RMSE), or ``max_drop`` below the version's validation score."""
    CONCEPT_DRIFT = "concept_drift"
    """Per model version: its concept-drift detector found the error rate (a regressor's
    mean absolute error) changed on the labelled stream; active until the detector has
    tested the new regime and found it stable."""
    EXPERIMENT = "experiment"
    """Per A/B/n experiment: a challenger arm found significantly worse than the control
    by the always-valid test, or the traffic split off its design (sample ratio
    mismatch); ``models`` names the experiments watched (empty: all)."""


@dataclass(frozen=True)
class AlertRuleConfig:
    """One alerting rule; every instance it fires carries the rule's name as ``alertname``."""

    name: str
    kind: RuleKind
    severity: str = "warning"
    metric: str = ""
    """feature_drift: the drift metric compared with ``threshold`` (e.g. ``psi``); empty
    means the feature's own drift decision. performance: the performance metric (e.g.
    ``f1_macro``); empty means ``accuracy``."""
    threshold: float | None = None
    """dataset_drift: drifted share; feature_drift: metric value (default: the metric's
    own decision threshold); ingest_drops: spans per second (fires when exceeded)."""
    models: tuple[str, ...] = ()
    """Model names the rule watches; empty watches every model."""
    features: tuple[str, ...] = ()
    """feature_drift and validation_failure: feature names; empty watches all."""
    checks: tuple[str, ...] = ()
    """validation_failure: check names (``metric_change`` matches every
    ``metric_change:<name>``); empty watches all."""
    for_seconds: float = 0.0
    """How long an instance must stay active before it fires (pending until then), as
    Prometheus' ``for``; evaluated whenever the rule's results arrive."""
    description: str = ""
    """Added to every alert as the ``description`` annotation."""
    max_drop: float | None = None
    """performance only: fires when the metric is more than this share below the
    version's validation score (0.1: a 10 % relative drop)."""

    def validate(self) -> None:
        """Reject names Prometheus and Alertmanager could not carry and misplaced options."""
        if not _NAME.match(self.name):
            raise ConfigError(f"name: '{self.name}' must match {_NAME.pattern}")
        if not self.severity or not _NAME.match(self.severity):
            raise ConfigError(f"severity: '{self.severity}' must match {_NAME.pattern}")
        for key in ("models", "features", "checks"):
            values = getattr(self, key)
            if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{key}: expected a list of strings, got {values!r}")
        if self.metric and self.kind not in (RuleKind.FEATURE_DRIFT, RuleKind.PERFORMANCE):
            raise ConfigError("metric: only a feature_drift or performance rule compares a metric")
        if self.kind is RuleKind.PERFORMANCE and self.threshold is None and self.max_drop is None:
            raise ConfigError("a performance rule needs a threshold, a max_drop or both")
        if self.max_drop is not None:
            if self.kind is not RuleKind.PERFORMANCE:
                raise ConfigError("max_drop: only a performance rule compares a drop")
            if not 0 < self.max_drop <= 1:
                raise ConfigError(f"max_drop: a relative drop lies in (0, 1], got {self.max_drop}")
        if self.checks and self.kind is not RuleKind.VALIDATION_FAILURE:
            raise ConfigError("checks: only a validation_failure rule filters checks")
        if self.threshold is not None:
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
                raise ConfigError(f"threshold: expected a number, got {self.threshold!r}")
            if not math.isfinite(self.threshold) or self.threshold < 0:
                raise ConfigError(f"threshold: must be finite and >= 0, got {self.threshold}")
        if not math.isfinite(self.for_seconds) or self.for_seconds < 0:
            raise ConfigError(f"for_seconds: must be finite and >= 0, got {self.for_seconds}")
        if self.kind is RuleKind.DATASET_DRIFT and (self.threshold or 0) > 1:
            raise ConfigError("threshold: a drifted share lies in [0, 1]")


@dataclass(frozen=True)
class WebhookConfig:
    """A receiver that gets every alert transition as an Alertmanager-style JSON POST."""

    name: str
    url: str
    timeout_seconds: float = 5.0
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    """Exponential backoff with the exporters' settings and defaults (first retry after
    5 s, at most 30 s apart, given up on after 300 s); a notification given up on
    counts as failed."""
    queue_size: int = 1000
    """Notifications waiting for this receiver; a full queue counts the new one failed."""
    max_alerts: int = 0
    """Most alerts listed in one body (the rest counted in ``truncatedAlerts``); 0: all."""

    def validate(self) -> None:
        """Check the name, the URL, the timeout and the sizes."""
        if not _NAME.match(self.name):
            raise ConfigError(f"name: '{self.name}' must match {_NAME.pattern}")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"url: '{self.url}' is not an http(s) URL")
        if not math.isfinite(self.timeout_seconds) or self.timeout_seconds <= 0:
            raise ConfigError(f"timeout_seconds: must be positive, got {self.timeout_seconds}")
        if self.queue_size < 1:
            raise ConfigError(f"queue_size: must be at least 1, got {self.queue_size}")
        if self.max_alerts < 0:
            raise ConfigError(f"max_alerts: must be >= 0, got {self.max_alerts}")


DEFAULT_RULES: Final = (
    AlertRuleConfig(
        "DatasetDrift",
        RuleKind.DATASET_DRIFT,
        "warning",
        description="The share of drifted features reached the dataset-drift level.",
    ),
    AlertRuleConfig(
        "FeatureDrift",
        RuleKind.FEATURE_DRIFT,
        "info",
        description="A feature's current distribution moved away from its baseline.",
    ),
    AlertRuleConfig(
        "ValidationFailed",
        RuleKind.VALIDATION_FAILURE,
        "warning",
        description="A data-validation check failed on the current window.",
    ),
    AlertRuleConfig(
        "PerformanceDrop",
        RuleKind.PERFORMANCE,
        "warning",
        max_drop=0.1,
        description="A model version's accuracy on labelled predictions fell more than 10 %"
        " below its validation score.",
    ),
    AlertRuleConfig(
        "ConceptDrift",
        RuleKind.CONCEPT_DRIFT,
        "warning",
        description="A model version's error rate on labelled predictions changed while"
        " its inputs need not have: the relationship between inputs and labels moved.",
    ),
    AlertRuleConfig(
        "ExperimentAlert",
        RuleKind.EXPERIMENT,
        "warning",
        description="An experiment's challenger is significantly worse than its control,"
        " or its traffic split is off its design (sample ratio mismatch).",
    ),
    AlertRuleConfig(
        "SpansDropped",
        RuleKind.INGEST_DROPS,
        "warning",
        description="The collector is losing spans.",
    ),
)


@dataclass(frozen=True)
class AlertsConfig:
    """The alerting component: rules, receivers, evaluation cadence and history size."""

    rules: tuple[AlertRuleConfig, ...] = DEFAULT_RULES
    webhooks: tuple[WebhookConfig, ...] = ()
    evaluation_interval_seconds: float = 15.0
    """How often ingest rules are evaluated (drift rules run on every drift result)."""
    history_limit: int = 10_000
    """Alert episodes kept in the history; the oldest resolved ones go first."""
    history_file: str = "alerts.sqlite"
    """History database, relative to the collector's data folder."""

    def __post_init__(self) -> None:
        # YAML lists of mappings arrive as tuples of dicts; build the nested configs.
        object.__setattr__(self, "rules", _nested(AlertRuleConfig, self.rules, "rules"))
        object.__setattr__(self, "webhooks", _nested(WebhookConfig, self.webhooks, "webhooks"))

    def validate(self) -> None:
        """Unique rule and receiver names, a sane cadence and history size."""
        for label, items in (("rules", self.rules), ("webhooks", self.webhooks)):
            names = [item.name for item in items]
            duplicate = next((n for n in names if names.count(n) > 1), None)
            if duplicate:
                raise ConfigError(f"{label}: name '{duplicate}' is used twice")
        value = self.evaluation_interval_seconds
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"evaluation_interval_seconds: must be positive, got {value}")
        if self.history_limit < 1:
            raise ConfigError(f"history_limit: must be at least 1, got {self.history_limit}")
        if not self.history_file:
            raise ConfigError("history_file: must not be empty")


def _nested(cls: type[Any], items: Any, where: str) -> tuple[Any, ...]:
    if isinstance(items, Mapping) or not isinstance(items, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {type(items).__name__}")
    built = []
    for index, item in enumerate(items):
        if isinstance(item, cls):
            item.validate()
            built.append(item)
        else:
            built.append(parse_dataclass(cls, item, f"{where}[{index}]"))
    return tuple(built)
