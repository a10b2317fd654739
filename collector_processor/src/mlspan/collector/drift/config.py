"""Configuration of the ``drift`` connector (the ``connectors.drift`` YAML section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.collector.pipeline.factory import ConfigError

WINDOW_MODES: Final = ("time", "rows")
BASELINE_MODES: Final = ("train", "digest", "window")


@dataclass(frozen=True)
class WindowConfig:
    """How predict-time summaries are cut into current windows."""

    mode: str = "time"
    """``time``: a window closes ``seconds`` after its first summary; ``rows``: once a
    feature has ``rows`` values."""
    seconds: float = 300.0
    rows: int = 10_000

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        if self.mode not in WINDOW_MODES:
            raise ConfigError(f"mode: must be one of {', '.join(WINDOW_MODES)}")
        if self.seconds <= 0:
            raise ConfigError("seconds: must be positive")
        if self.rows < 1:
            raise ConfigError("rows: must be at least 1")


@dataclass(frozen=True)
class BaselineConfig:
    """Where the baseline comes from."""

    mode: str = "train"
    """``train``: fit-time summaries of the training data; ``digest``: the summaries of
    the dataset with content digest ``digest``; ``window``: predict-time summaries with
    span end times in [``start``, ``end``) (unix seconds)."""
    digest: str = ""
    start: float = 0.0
    end: float = 0.0

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        if self.mode not in BASELINE_MODES:
            raise ConfigError(f"mode: must be one of {', '.join(BASELINE_MODES)}")
        if self.mode == "digest" and not self.digest:
            raise ConfigError("digest: required when mode is digest")
        if self.mode == "window" and not self.end > self.start:
            raise ConfigError("end: must be after start when mode is window")


@dataclass(frozen=True)
class DriftConfig:
    """The drift connector: windows, baseline, thresholds, validation configs, storage."""

    queue_size: int = 256
    """Batches waiting for the worker; more are dropped and counted."""
    window: WindowConfig = field(default_factory=WindowConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    validation_dir: str = ""
    """Folder of JSON validation configs named ``<model name>.json`` (``default.json``
    applies to models without their own)."""
    persist: bool = True
    """Keep baselines and results in ``drift.sqlite`` in the data folder."""
    history: int = 50
    """Results kept per model for the API."""
    tick_seconds: float = 1.0
    """How often the worker checks whether a time window has closed."""
    max_series: int = 10_000
    """(service, model, version, feature) series tracked at most; summaries of further
    series are left out and counted (``drift_series_limit``)."""
    max_category_entries: int = 2_000_000
    """Exact category counts held at most across every baseline and window (~150 bytes
    each); summaries that would add more are left out (``drift_state_limit``)."""
    max_sketch_bytes: int = 256 * 1024 * 1024
    """Serialized sketch bytes held at most across every baseline and window."""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        if self.queue_size < 1:
            raise ConfigError("queue_size: must be at least 1")
        if self.history < 1:
            raise ConfigError("history: must be at least 1")
        if self.tick_seconds <= 0:
            raise ConfigError("tick_seconds: must be positive")
        for name in ("max_series", "max_category_entries", "max_sketch_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1")
        self.window.validate()
        self.baseline.validate()
        self.thresholds.validate()
