"""Decision thresholds of the drift statistics, configurable per model and per feature.

Two named presets set the decision rule and the thresholds it starts from:

* ``mlspan`` (the default): a feature drifts when its change is both *significant* (the
  feature's sketch-aware two-sample test, KS or chi-square, corrected across the
  model's features, below ``alpha``) and *material* (at least one effect size reaches
  its threshold, the materiality floor). The floors are small enough to catch a top
  category falling from 40 % to 30 % of rows (L-inf 0.10) and large enough to ignore a
  0.03 sigma shift (W/sigma 0.03, KS D 0.012), however many rows there are.
* ``evidently``: Evidently's ``DataDriftPreset`` defaults. Samples of at most
  ``test_max_rows`` rows are decided by the test alone (uncorrected), larger ones by
  effect sizes alone (W/sigma >= 0.1 for numerical, JS >= 0.1 for categorical features).

A threshold of ``None`` makes a metric informational. Fields left unset take the
preset's value; explicit values override it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
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

FROM_PRESET: Final = math.nan
"""Default of the preset-governed fields ("unset"): replaced by the preset's value on
creation. NaN is no threshold a config can meaningfully give."""

PRESETS: Final = MappingProxyType(
    {
        "mlspan": MappingProxyType(
            {
                "wasserstein_sigma": 0.1,
                "psi": 0.2,
                "js": 0.1,
                "ks": 0.05,
                "linf": 0.05,
                "correction": "bh",
            }
        ),
        "evidently": MappingProxyType(
            {
                "wasserstein_sigma": 0.1,
                "psi": None,
                "js": 0.1,
                "ks": None,
                "linf": None,
                "correction": "none",
            }
        ),
    }
)
"""Each preset's values of the fields it governs (the rule follows the preset's name)."""

PRESET_FIELDS: Final = ("wasserstein_sigma", "psi", "js", "ks", "linf", "correction")


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature, and a dataset, counts as drifted.

    A metric is material when its absolute value reaches its threshold. Under the
    ``mlspan`` preset a feature drifts when its corrected test p-value is below ``alpha``
    and at least one metric is material; under ``evidently`` the test alone decides on
    samples of at most ``test_max_rows`` rows and the metrics alone on larger ones.
    Windows with fewer than ``min_rows`` rows are not judged.
    """

    preset: str = "mlspan"
    """The decision rule and the defaults of the fields it governs: mlspan or evidently."""
    wasserstein_sigma: float | None = FROM_PRESET
    """Wasserstein-1 distance over the baseline standard deviation."""
    psi: float | None = FROM_PRESET
    """Population stability index on baseline-quantile bins (or categories)."""
    js: float | None = FROM_PRESET
    """Jensen-Shannon distance (natural log) on a common binning or the categories."""
    ks: float | None = FROM_PRESET
    """Kolmogorov-Smirnov statistic D from the two sketches."""
    hellinger: float | None = None
    """Hellinger distance on the common binning."""
    linf: float | None = FROM_PRESET
    """L-infinity distance between category frequencies (the largest share change)."""
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
    correction: str = ""
    """Multiple-testing correction across features: bh, holm or none."""
    test_max_rows: int = 1000
    """``evidently`` preset: largest sample (the smaller of both) on which the test decides."""
    min_rows: int = 30
    """Smallest sample (the smaller of both) that is judged at all."""
    dataset_share: float = 0.5
    """Share of drifted features from which the whole dataset counts as drifted."""

    def __post_init__(self) -> None:
        values = PRESETS.get(self.preset)
        if values is None:
            return  # validate() names the unknown preset
        for name in PRESET_FIELDS:
            current = getattr(self, name)
            if current == "" or (isinstance(current, float) and math.isnan(current)):
                object.__setattr__(self, name, values[name])

    @property
    def significant_and_material(self) -> bool:
        """True under the ``mlspan`` rule, False under Evidently's."""
        return self.preset != "evidently"

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: must be one of {', '.join(PRESETS)}, got {self.preset!r}")
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
        preset = values.get("preset")
        if preset is not None and not isinstance(preset, str):
            raise ConfigError(f"{where}.preset: expected str, got {preset!r}")
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
        if preset is not None:
            # A new preset resets the fields it governs; the rest are kept.
            kept = {
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if f.name not in PRESET_FIELDS
            }
            copy = DriftThresholds(**(kept | values))
        else:
            copy = dataclasses.replace(self, **values)
        try:
            copy.validate()
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from exc
        return copy
