"""Configuration of the ``models`` processor (the model registry)."""

from __future__ import annotations

from dataclasses import dataclass

from mlspan.collector.pipeline.factory import ConfigError


@dataclass(frozen=True)
class ModelsConfig:
    """The ``processors.models`` section; every cap refuses (and counts) what would
    exceed it instead of growing."""

    persist: bool = True
    """Keep the registry in ``models.sqlite`` in the data folder (else in memory)."""
    max_models: int = 1000
    """Most (service, model name) pairs kept; fits of further models are refused."""
    max_versions_per_model: int = 1000
    """Most versions numbered per model; fits of further versions are refused."""
    max_metrics_per_version: int = 200
    """Most metric rows per version (source, metric, dataset); further ones are refused."""
    max_services_per_version: int = 100
    """Most services recorded as serving one version."""
    max_summary_bytes: int = 512 * 1024
    """Most bytes of training-data feature summaries kept per version (for the
    training-data drift of ``diff``); a version past it keeps its feature schema only."""
    partial_fit: bool = False
    """Also number the versions ``partial_fit`` makes (one per call: off by default)."""
    serving_flush_seconds: float = 5.0
    """How often the serving counts of predict calls are written to the store."""

    def validate(self) -> None:
        """Reject non-positive caps."""
        for name in (
            "max_models",
            "max_versions_per_model",
            "max_metrics_per_version",
            "max_services_per_version",
        ):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(f"{name}: must be at least 1, got {value}")
        if self.max_summary_bytes < 0:
            raise ConfigError(f"max_summary_bytes: must be >= 0, got {self.max_summary_bytes}")
        if not self.serving_flush_seconds > 0:
            raise ConfigError(
                f"serving_flush_seconds: must be positive, got {self.serving_flush_seconds}"
            )
