"""Prometheus families of the model registry, built at every scrape.

``mlspan_model_versions{service, model}`` counts each model's numbered versions and
``mlspan_models_refused_total{reason}`` what the registry refused (``models``,
``versions``, ``metrics``, ``services``, ``summaries``, ``decode``; ``clamped`` counts
values kept after clamping, e.g. timestamps past 2^63 - 1). One series per
model: capped by ``max_models`` of the registry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from mlspan.collector.models.registry import ModelRegistry

logger = logging.getLogger(__name__)

MODEL_VERSIONS = "mlspan_model_versions"
REFUSED = "mlspan_models_refused"
REASONS = ("models", "versions", "metrics", "services", "summaries", "decode")


class ModelMetrics(Collector):
    """See the module docstring."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry

    def describe(self) -> Iterable[Metric]:
        """The families without samples."""
        return [_versions(), _refused()]

    def collect(self) -> Iterator[Metric]:
        """Version counts per model and the refusal counters."""
        versions = _versions()
        try:
            for service, name in self._registry.models():
                versions.add_metric((service, name), len(self._registry.refs(service, name)))
        except Exception:
            logger.exception("reading the model registry for /metrics failed")
        yield versions
        refused = _refused()
        counts = self._registry.refusals()
        for reason in sorted({*REASONS, *counts}):
            refused.add_metric((reason,), counts.get(reason, 0))
        yield refused


def _versions() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        MODEL_VERSIONS,
        "Numbered versions of a model in the registry.",
        labels=("service", "model"),
    )


def _refused() -> CounterMetricFamily:
    return CounterMetricFamily(
        REFUSED,
        "Fits, metrics and serving records the model registry refused, by reason.",
        labels=("reason",),
    )
