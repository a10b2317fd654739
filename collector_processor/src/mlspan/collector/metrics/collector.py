"""The client_python custom collector behind ``/metrics``.

Every value is computed at scrape time from its source of truth: ``IngestStats`` for the
ingest counters, the drift engine's ``latest_drift()``/``latest_validation()`` for drift
and validation gauges, and the alerting component for alert states. Names and labels
follow the cross-team metrics contract.

Label cardinality is capped per metric family (``MetricsConfig.max_series_per_metric``)
and, in the families labelled by service, per service as well
(``max_series_per_service``; see ``cap``): the exported subset is stable from scrape to
scrape, and every series left out increments
``mlspan_metric_label_overflow_total{metric, service}`` — it is counted, never silently
dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from mlspan.collector.drift.results import DatasetDrift, ValidationResult
from mlspan.collector.metrics.cap import Series, cap_series
from mlspan.collector.metrics.config import MetricsConfig
from mlspan.collector.pdata.stats import IngestStats

FEATURE_DRIFT: Final = "mlspan_feature_drift"
FEATURE_DRIFTED: Final = "mlspan_feature_drifted"
DATASET_DRIFT_SHARE: Final = "mlspan_dataset_drift_share"
DATASET_DRIFTED: Final = "mlspan_dataset_drifted"
VALIDATION_FAILURES: Final = "mlspan_validation_failures"
ALERTS_FIRING: Final = "mlspan_alerts_firing"
NOTIFICATIONS_FAILED: Final = "mlspan_alert_notifications_failed"
SPANS_RECEIVED: Final = "mlspan_spans_received"
SPANS_DROPPED: Final = "mlspan_spans_dropped"
REQUESTS_REJECTED: Final = "mlspan_requests_rejected"
LABEL_OVERFLOW: Final = "mlspan_metric_label_overflow"
"""Counter names are given without ``_total``; client_python appends it on exposition."""

MODEL_LABELS: Final = ("service", "model", "version")
PER_SERVICE_FAMILIES: Final = frozenset(
    {FEATURE_DRIFT, FEATURE_DRIFTED, DATASET_DRIFT_SHARE, DATASET_DRIFTED, VALIDATION_FAILURES}
)
"""Families labelled by service first, capped per service too."""

logger = logging.getLogger(__name__)


class DriftResultsSource(Protocol):
    """The drift engine as the exporter sees it."""

    def latest_drift(self) -> Sequence[DatasetDrift]:
        """The most recent drift result of every model."""

    def latest_validation(self) -> Sequence[ValidationResult]:
        """The most recent validation results of every model."""


class AlertStatusSource(Protocol):
    """The alerting component as the exporter sees it."""

    def firing_counts(self) -> Mapping[tuple[str, str], int]:
        """Firing alert instances by (rule name, severity), zero for quiet rules."""

    def notification_failures(self) -> Mapping[str, int]:
        """Notifications given up on, by receiver."""


class MlspanCollector:
    """Computes every mlspan metric family when the registry is collected.

    ``drift`` and ``alerts`` are providers, looked up at every scrape, because the drift
    engine and the alerting component may start after the exporter is registered.
    """

    def __init__(
        self,
        stats: IngestStats,
        config: MetricsConfig | None = None,
        drift: Callable[[], DriftResultsSource | None] | None = None,
        alerts: Callable[[], AlertStatusSource | None] | None = None,
    ) -> None:
        self._stats = stats
        self._config = config or MetricsConfig()
        self._drift = drift or (lambda: None)
        self._alerts = alerts or (lambda: None)
        self._lock = threading.Lock()
        self._overflow: Counter[tuple[str, str]] = Counter()
        """Series left out so far, by (family as scraped, service)."""

    def describe(self) -> Iterable[Metric]:
        """Families without samples, so the registry knows the names without collecting."""
        families = [family for family, _ in self._families(None, None, None)]
        return [*families, _overflow_family()]

    def collect(self) -> Iterator[Metric]:
        """Build every family from the current state of its source."""
        drifts, validation = self._read_results()
        families = self._families(drifts, validation, self._alerts())
        dropped: Counter[tuple[str, str]] = Counter()
        for family, series in families:
            name = _exposed_name(family)
            for service, count in self._fill(family, series).items():
                dropped[name, service] += count
        yield from (family for family, _ in families)
        with self._lock:
            self._overflow.update(dropped)
            # Every family has its service-less series, 0 until anything is left out, so
            # increase() sees the counter start; services appear once they overflow.
            totals = {(_exposed_name(family), ""): 0 for family, _ in families}
            totals.update(self._overflow)
        overflow = _overflow_family()
        for labels, total in sorted(totals.items()):
            overflow.add_metric(labels, total)
        yield overflow

    def _read_results(self) -> tuple[Sequence[DatasetDrift], Sequence[ValidationResult]]:
        """The engine's latest results; a failing engine costs its gauges, not the scrape."""
        drift = self._drift()
        if drift is None:
            return (), ()
        try:
            return drift.latest_drift(), drift.latest_validation()
        except Exception:
            logger.exception("reading drift results for /metrics failed")
            return (), ()

    def _fill(self, family: Metric, series: Series) -> Counter[str]:
        """Add the series the caps allow; return how many were left out, by service."""
        config = self._config
        per_service = config.max_series_per_service if family.name in PER_SERVICE_FAMILIES else None
        capped = cap_series(series, config.max_series_per_metric, per_service)
        add = family.add_metric  # type: ignore[attr-defined]
        for labels in capped.kept:
            add(labels, series[labels])
        return capped.dropped

    def _families(
        self,
        drifts: Sequence[DatasetDrift] | None,
        validation: Sequence[ValidationResult] | None,
        alerts: AlertStatusSource | None,
    ) -> list[tuple[Metric, Series]]:
        try:
            alert_families = _alert_families(alerts)
        except Exception:
            logger.exception("reading alert states for /metrics failed")
            alert_families = _alert_families(None)
        return [
            *_drift_families(drifts or ()),
            _validation_family(validation or ()),
            *alert_families,
            *_ingest_families(self._stats),
        ]


def _exposed_name(family: Metric) -> str:
    """The name as scraped: client_python appends ``_total`` to counters."""
    return f"{family.name}_total" if family.type == "counter" else family.name


def _overflow_family() -> CounterMetricFamily:
    return CounterMetricFamily(
        LABEL_OVERFLOW,
        "Series not exported because a label-cardinality cap was reached, by family and service.",
        labels=("metric", "service"),
    )


def _drift_families(drifts: Sequence[DatasetDrift]) -> list[tuple[Metric, Series]]:
    metric_values: Series = {}
    feature_flags: Series = {}
    shares: Series = {}
    dataset_flags: Series = {}
    for drift in drifts:
        model = (drift.key.service, drift.key.model_name, drift.key.model_version)
        shares.setdefault(model, drift.drifted_share)
        dataset_flags.setdefault(model, float(drift.drifted))
        for feature in drift.features:
            feature_flags.setdefault((*model, feature.feature), float(feature.drifted))
            for metric in feature.metrics:
                metric_values.setdefault((*model, feature.feature, metric.name), metric.value)
    return [
        (
            GaugeMetricFamily(
                FEATURE_DRIFT,
                "Value of one drift metric of one feature in the latest window.",
                labels=(*MODEL_LABELS, "feature", "metric"),
            ),
            metric_values,
        ),
        (
            GaugeMetricFamily(
                FEATURE_DRIFTED,
                "1 if the feature drifted in the latest window, else 0.",
                labels=(*MODEL_LABELS, "feature"),
            ),
            feature_flags,
        ),
        (
            GaugeMetricFamily(
                DATASET_DRIFT_SHARE,
                "Share of the model's features that drifted in the latest window.",
                labels=MODEL_LABELS,
            ),
            shares,
        ),
        (
            GaugeMetricFamily(
                DATASET_DRIFTED,
                "1 if the model's dataset drifted in the latest window, else 0.",
                labels=MODEL_LABELS,
            ),
            dataset_flags,
        ),
    ]


def _validation_family(results: Sequence[ValidationResult]) -> tuple[Metric, Series]:
    failures: Series = {}
    for result in results:
        labels = (result.key.service, result.key.model_name, result.key.model_version, result.check)
        failures[labels] = failures.get(labels, 0.0) + (0.0 if result.passed else 1.0)
    family = GaugeMetricFamily(
        VALIDATION_FAILURES,
        "Validation checks failing now, by check.",
        labels=(*MODEL_LABELS, "check"),
    )
    return family, failures


def _alert_families(alerts: AlertStatusSource | None) -> list[tuple[Metric, Series]]:
    firing: Series = {}
    failed: Series = {}
    if alerts is not None:
        firing = {key: float(n) for key, n in alerts.firing_counts().items()}
        failed = {(receiver,): float(n) for receiver, n in alerts.notification_failures().items()}
    return [
        (
            GaugeMetricFamily(
                ALERTS_FIRING, "Alert instances firing now, by rule.", labels=("alert", "severity")
            ),
            firing,
        ),
        (
            CounterMetricFamily(
                NOTIFICATIONS_FAILED,
                "Alert notifications given up on after all retries, or refused by a full queue.",
                labels=("receiver",),
            ),
            failed,
        ),
    ]


def _ingest_families(stats: IngestStats) -> list[tuple[Metric, Series]]:
    snapshot = stats.snapshot()
    return [
        (
            CounterMetricFamily(
                SPANS_RECEIVED, "Spans accepted, by receiver.", labels=("receiver",)
            ),
            {(k,): float(v) for k, v in snapshot.spans_received.items()},
        ),
        (
            CounterMetricFamily(SPANS_DROPPED, "Spans lost, by reason.", labels=("reason",)),
            {(k,): float(v) for k, v in snapshot.spans_dropped.items()},
        ),
        (
            CounterMetricFamily(
                REQUESTS_REJECTED,
                "Export requests rejected, by receiver and reason.",
                labels=("receiver", "reason"),
            ),
            {k: float(v) for k, v in snapshot.requests_rejected.items()},
        ),
    ]
