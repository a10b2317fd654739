"""Prometheus export: mlspan's metrics computed at scrape time.

``MlspanCollector`` is a client_python custom collector: it reads the ingest counters,
the drift engine's latest results and the alert states when Prometheus scrapes, so no
value is ever stale and nothing is kept twice. ``metrics_handler`` serves a registry as
``/metrics`` on the query API router.
"""

from __future__ import annotations

from mlspan.collector.metrics.collector import (
    AlertStatusSource,
    DriftResultsSource,
    MlspanCollector,
)
from mlspan.collector.metrics.config import MetricsConfig
from mlspan.collector.metrics.endpoint import METRICS_PATH, metrics_text, register_metrics_route

__all__ = [
    "METRICS_PATH",
    "AlertStatusSource",
    "DriftResultsSource",
    "MetricsConfig",
    "MlspanCollector",
    "metrics_text",
    "register_metrics_route",
]
