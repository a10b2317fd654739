"""Configuration of the Prometheus export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlspan.collector.pipeline.factory import ConfigError

DEFAULT_MAX_SERIES: Final = 10_000


@dataclass(frozen=True)
class MetricsConfig:
    """Limits of the ``/metrics`` export."""

    max_series_per_metric: int = DEFAULT_MAX_SERIES
    """Most series exported per metric family; the rest are counted in
    ``mlspan_metric_label_overflow_total{metric}`` instead of being exported."""

    def validate(self) -> None:
        """Reject a cap that would hide every series."""
        if self.max_series_per_metric < 1:
            raise ConfigError(
                f"max_series_per_metric: must be at least 1, got {self.max_series_per_metric}"
            )
