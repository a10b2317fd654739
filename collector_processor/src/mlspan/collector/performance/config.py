"""Configuration of the ``performance`` processor."""

from __future__ import annotations

from dataclasses import dataclass

from mlspan.collector.pipeline.factory import ConfigError


@dataclass(frozen=True)
class PerformanceConfig:
    """The ``processors.performance`` section; every cap refuses (and counts) what would
    exceed it instead of growing."""

    persist: bool = True
    """Keep windows and validation scores in ``performance.sqlite`` in the data folder."""
    max_models: int = 1000
    """Most (service, model, version) series kept; summaries of further ones are refused."""
    max_windows_per_model: int = 2000
    """Most prediction windows kept per model version; the oldest window is evicted."""
    max_window_seconds: float = 31 * 86400.0
    """Longest prediction window accepted (a span claiming a longer one is refused)."""
    reference_rows: int = 1000
    """Labelled predictions with probabilities a version's reference calibration of its
    estimated performance needs: its ``evaluate`` outcomes when they hold that many, else
    its earliest labelled windows until they do (docs/outcomes.md)."""

    def validate(self) -> None:
        """Reject non-positive caps."""
        if self.max_models < 1:
            raise ConfigError(f"max_models: must be at least 1, got {self.max_models}")
        if self.max_windows_per_model < 1:
            raise ConfigError(
                f"max_windows_per_model: must be at least 1, got {self.max_windows_per_model}"
            )
        if self.reference_rows < 1:
            raise ConfigError(f"reference_rows: must be at least 1, got {self.reference_rows}")
        if not self.max_window_seconds > 0:
            raise ConfigError(
                f"max_window_seconds: must be positive, got {self.max_window_seconds}"
            )
