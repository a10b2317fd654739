"""Prometheus families of the performance processor, built at every scrape.

``mlspan_model_performance{service, model, version, metric}`` holds each version's
headline metrics over all its windows (NaN metrics are left out),
``mlspan_model_performance_estimated{service, model, version, metric}`` the metrics
estimated from the predicted probabilities of all its predictions (labelled or not),
``mlspan_label_coverage{service, model, version}`` its label coverage, and
``mlspan_performance_refused_total{reason}`` what the processor refused (``models``,
``evicted``, ``task``, ``decode``, ``validation``) and the series the metric caps left
out (``series``). The gauge families are labelled by service and capped with
``metrics.cap`` by the collector's ``MetricsConfig`` (per family and per service).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlspan.collector.metrics.cap import Series, cap_series
from mlspan.collector.metrics.config import MetricsConfig

if TYPE_CHECKING:
    from mlspan.collector.performance.processor import PerformanceProcessor

logger = logging.getLogger(__name__)

MODEL_PERFORMANCE = "mlspan_model_performance"
LABEL_COVERAGE = "mlspan_label_coverage"
ESTIMATED = "mlspan_model_performance_estimated"
REFUSED = "mlspan_performance_refused"


class PerformanceMetrics(Collector):
    """See the module docstring."""

    def __init__(self, processor: PerformanceProcessor, config: MetricsConfig | None) -> None:
        self._processor = processor
        self._config = config or MetricsConfig()
        self._lock = threading.Lock()
        self._capped: Counter[str] = Counter()

    def describe(self) -> Iterable[Metric]:
        """The families without samples."""
        return [*_gauges(), _refused_family()]

    def collect(self) -> Iterator[Metric]:
        """Every version's metrics and coverage, capped, and the refusal counters."""
        values: Series = {}
        coverage: Series = {}
        estimated: Series = {}
        try:
            for result in self._processor.results():
                key = (result.key.service, result.key.model, result.key.version)
                for name, value in result.metrics.items():
                    if math.isfinite(value):
                        values[(*key, name)] = value
                if result.coverage is not None:
                    coverage[key] = result.coverage
                for name, value in result.estimated.items():
                    if math.isfinite(value):
                        estimated[(*key, name)] = value
        except Exception:
            logger.exception("reading performance results for /metrics failed")
        performance, labels, guessed = _gauges()
        dropped = 0
        for family, series in ((performance, values), (labels, coverage), (guessed, estimated)):
            capped = cap_series(
                series, self._config.max_series_per_metric, self._config.max_series_per_service
            )
            for kept in capped.kept:
                family.add_metric(kept, series[kept])
            dropped += sum(capped.dropped.values())
        with self._lock:
            self._capped["series"] += dropped
            refused = Counter(self._processor.state.refusals())
            refused.update(self._capped)
        yield performance
        yield labels
        yield guessed
        counter = _refused_family()
        for reason in sorted({"decode", "models", "series", *refused}):
            counter.add_metric((reason,), refused.get(reason, 0))
        yield counter


def _gauges() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            MODEL_PERFORMANCE,
            "A performance metric of a model version over its labelled predictions.",
            labels=("service", "model", "version", "metric"),
        ),
        GaugeMetricFamily(
            LABEL_COVERAGE,
            "Share of a model version's logged predictions labelled so far.",
            labels=("service", "model", "version"),
        ),
        GaugeMetricFamily(
            ESTIMATED,
            "A performance metric of a model version estimated from the predicted"
            " probabilities of all its predictions, before labels.",
            labels=("service", "model", "version", "metric"),
        ),
    )


def _refused_family() -> CounterMetricFamily:
    return CounterMetricFamily(
        REFUSED,
        "Performance spans, versions, windows and series refused or left out, by reason.",
        labels=("reason",),
    )
