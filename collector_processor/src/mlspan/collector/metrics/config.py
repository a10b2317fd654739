"""Configuration of the Prometheus export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlspan.collector.pipeline.factory import ConfigError

DEFAULT_MAX_SERIES: Final = 10_000
DEFAULT_MAX_SERIES_PER_SERVICE: Final = 2_000


@dataclass(frozen=True)
class MetricsConfig:
    """Limits of the ``/metrics`` export."""

    max_series_per_metric: int = DEFAULT_MAX_SERIES
    """Most series exported per metric family, shared fairly among services in the
    families labelled by service; the rest are counted in
    ``mlspan_metric_label_overflow_total{metric, service}`` instead of being exported."""
    max_series_per_service: int = DEFAULT_MAX_SERIES_PER_SERVICE
    """Most series one service may have in each family labelled by service (the drift
    families and ``mlspan_validation_failures``), so one service cannot take the whole
    of ``max_series_per_metric``; the rest are counted in the same overflow counter."""

    def validate(self) -> None:
        """Reject a cap that would hide every series."""
        for name in ("max_series_per_metric", "max_series_per_service"):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(f"{name}: must be at least 1, got {value}")
