"""Decision thresholds of the drift statistics, configurable per model and per feature.

Effect sizes decide on large samples (where every p-value is tiny and means nothing);
two-sample tests with a multiple-testing correction decide on small ones, as Evidently
does below 1,000 reference rows. A threshold of ``None`` makes a metric informational.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.pipeline.factory import ConfigError

METRIC_NAMES: Final = (
    "wasserstein_sigma",
    "psi",
    "js",
    "ks",
    "hellinger",
    "linf",
    "mean_change_sigma",
    "std_change",
    "skew_change",
    "kurtosis_change",
    "null_rate_change",
)
"""Every effect-size metric a threshold can be set for."""

CORRECTIONS: Final = ("bh", "holm", "none")
"""Multiple-testing corrections: Benjamini-Hochberg, Holm, or none."""


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature, and a dataset, counts as drifted.

    A metric drifts when its absolute value reaches its threshold. On samples of at most
    ``test_max_rows`` rows the feature's two-sample test (KS or chi-square) decides,
    with its p-value corrected across features; larger samples are decided by the
    effect sizes. Windows with fewer than ``min_rows`` rows are not judged.
    """

    wasserstein_sigma: float | None = 0.1
    """Wasserstein-1 distance over the baseline standard deviation."""
    psi: float | None = 0.2
    """Population stability index on baseline-quantile bins (or categories)."""
    js: float | None = 0.1
    """Jensen-Shannon distance (natural log) on a common binning or the categories."""
    ks: float | None = None
    """Kolmogorov-Smirnov statistic D from the two sketches."""
    hellinger: float | None = None
    """Hellinger distance on the common binning."""
    linf: float | None = None
    """L-infinity distance between category frequencies."""
    mean_change_sigma: float | None = None
    """Change of the mean over the baseline standard deviation."""
    std_change: float | None = None
    """Relative change of the standard deviation."""
    skew_change: float | None = None
    """Absolute change of the skewness."""
    kurtosis_change: float | None = None
    """Absolute change of the excess kurtosis."""
    null_rate_change: float | None = None
    """Absolute change of the share of missing values."""
    alpha: float = 0.05
    """Significance level of the two-sample tests after correction."""
    correction: str = "bh"
    """Multiple-testing correction across features: bh, holm or none."""
    test_max_rows: int = 1000
    """Largest sample (the smaller of both) on which p-values decide."""
    min_rows: int = 30
    """Smallest sample (the smaller of both) that is judged at all."""
    dataset_share: float = 0.5
    """Share of drifted features from which the whole dataset counts as drifted."""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        for name in METRIC_NAMES:
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"{name}: expected a non-negative number or null, got {value!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha: must be in (0, 1), got {self.alpha!r}")
        if self.correction not in CORRECTIONS:
            raise ConfigError(f"correction: must be one of {', '.join(CORRECTIONS)}")
        for name in ("test_max_rows", "min_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}: expected a non-negative integer, got {value!r}")
        if not 0.0 < self.dataset_share <= 1.0:
            raise ConfigError(f"dataset_share: must be in (0, 1], got {self.dataset_share!r}")

    def threshold(self, metric: str) -> float | None:
        """The threshold of ``metric`` as a float, or None if it is informational."""
        value = getattr(self, metric, None)
        return None if value is None else float(value)

    def with_overrides(self, overrides: Mapping[str, Any], where: str) -> DriftThresholds:
        """A copy with ``overrides`` applied; unknown keys and bad values name the key."""
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"{where}: expected an object, got {type(overrides).__name__}")
        known = {f.name for f in dataclasses.fields(self)}
        for key in overrides:
            if key not in known:
                names = ", ".join(sorted(known))
                raise ConfigError(f"{where}: unknown key '{key}' (known: {names})")
        values = dict(overrides)
        for key in ("alpha", "dataset_share"):
            raw = values.get(key)
            if isinstance(raw, int) and not isinstance(raw, bool):
                values[key] = float(raw)
        for key in ("alpha", "dataset_share", "correction", "test_max_rows", "min_rows"):
            expected = type(getattr(self, key))
            if key in values and (
                not isinstance(values[key], expected) or isinstance(values[key], bool)
            ):
                wrong = values[key]
                raise ConfigError(f"{where}.{key}: expected {expected.__name__}, got {wrong!r}")
        copy = dataclasses.replace(self, **values)
        try:
            copy.validate()
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from exc
        return copy
