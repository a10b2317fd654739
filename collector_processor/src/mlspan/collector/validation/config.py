"""The JSON validation config of one model or dataset, parsed strictly.

Example::

    {
      "feature_types": {"zip_code": "categorical"},
      "cardinality": {"max_categories": 50},
      "schema": {"infer": true, "allow_extra_columns": false, "null_rate_tolerance": 0.05,
                 "columns": {"age": {"type": "numerical", "max_null_rate": 0.01,
                                     "min": 0, "max": 120}}},
      "accepted_change": {"mean": 10, "std": 25},
      "accepted_change_sigma": 0.1,
      "drift": {"wasserstein_sigma": 0.1, "psi": 0.2},
      "features": {"age": {"accepted_change": {"mean": 5}, "drift": {"psi": 0.3}}}
    }

Every wrong key or value raises ``ConfigError`` with the JSON path of the key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.collector.pipeline.factory import ConfigError

SUMMARY_METRICS: Final = ("mean", "median", "std", "min", "max", "null_rate")
"""Summary metrics whose change against the baseline can be benchmarked."""

KINDS: Final = ("numerical", "categorical", "ignore")
"""Feature types the config may force; "ignore" leaves a feature out."""


@dataclass(frozen=True)
class ColumnSpec:
    """Expectations for one column; None means "not checked" (or inferred)."""

    type: str | None = None
    nullable: bool | None = None
    max_null_rate: float | None = None
    min: float | None = None
    max: float | None = None
    max_out_of_range_share: float | None = None
    allowed: tuple[str, ...] | None = None
    max_unseen_share: float | None = None


@dataclass(frozen=True)
class SchemaSpec:
    """The expected schema, explicit per column and/or inferred from the baseline."""

    infer: bool = True
    allow_extra_columns: bool = False
    null_rate_tolerance: float = 0.05
    """Inferred null-rate limit: the baseline's rate plus this."""
    out_of_range_share: float = 0.01
    """Default share of values allowed outside the range."""
    unseen_share: float = 0.01
    """Default share of values allowed outside the known categories."""
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureRules:
    """Per-feature overrides of the accepted changes and drift thresholds."""

    accepted_change: Mapping[str, float] = field(default_factory=dict)
    drift: DriftThresholds | None = None


@dataclass(frozen=True)
class ValidationConfig:
    """Everything the validation and drift decisions of one model can be told."""

    feature_types: Mapping[str, str] = field(default_factory=dict)
    max_categories: int | None = None
    """Data-format identifier: numerical features with at most this many distinct values
    (known exactly on small samples) and numeric-looking categories above it are
    reclassified."""
    schema: SchemaSpec = field(default_factory=SchemaSpec)
    accepted_change: Mapping[str, float] = field(default_factory=dict)
    """Accepted change per summary metric, in percent of the baseline value."""
    accepted_change_sigma: float = 0.1
    """Standardised companion: a location change within this many baseline standard
    deviations passes whatever its percentage (a zero-mean feature's +11,239 %)."""
    drift: DriftThresholds = field(default_factory=DriftThresholds)
    features: Mapping[str, FeatureRules] = field(default_factory=dict)

    def thresholds_for(self, feature: str) -> DriftThresholds:
        """Drift thresholds of ``feature``: its override or the model's."""
        rules = self.features.get(feature)
        return rules.drift if rules is not None and rules.drift is not None else self.drift

    def accepted_for(self, feature: str) -> dict[str, float]:
        """Accepted percentage change per summary metric for ``feature``."""
        merged = dict(self.accepted_change)
        rules = self.features.get(feature)
        if rules is not None:
            merged.update(rules.accepted_change)
        return merged


def load_validation_config(path: Path, base: DriftThresholds | None = None) -> ValidationConfig:
    """Read and parse a JSON config file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_validation_config(raw, str(path.name), base)


def parse_validation_config(
    raw: Any, where: str = "validation", base: DriftThresholds | None = None
) -> ValidationConfig:
    """Parse a decoded JSON object; ``base`` are the collector's default thresholds."""
    obj = _object(raw, where)
    _keys(
        obj,
        where,
        (set(ValidationConfig.__dataclass_fields__) - {"max_categories"}) | {"cardinality"},
    )
    types = {
        name: _choice(value, f"{where}.feature_types.{name}", KINDS)
        for name, value in _object(obj.get("feature_types", {}), f"{where}.feature_types").items()
    }
    cardinality = _object(obj.get("cardinality", {}), f"{where}.cardinality")
    _keys(cardinality, f"{where}.cardinality", {"max_categories"})
    max_categories = cardinality.get("max_categories")
    if max_categories is not None and (
        not isinstance(max_categories, int)
        or isinstance(max_categories, bool)
        or max_categories < 1
    ):
        raise ConfigError(f"{where}.cardinality.max_categories: expected a positive integer")
    drift = (base or DriftThresholds()).with_overrides(
        _object(obj.get("drift", {}), f"{where}.drift"), f"{where}.drift"
    )
    features: dict[str, FeatureRules] = {}
    for name, value in _object(obj.get("features", {}), f"{where}.features").items():
        at = f"{where}.features.{name}"
        rules = _object(value, at)
        _keys(rules, at, {"accepted_change", "drift"})
        override = rules.get("drift")
        features[name] = FeatureRules(
            _accepted(rules.get("accepted_change", {}), f"{at}.accepted_change"),
            None if override is None else drift.with_overrides(override, f"{at}.drift"),
        )
    sigma = obj.get("accepted_change_sigma", 0.1)
    return ValidationConfig(
        feature_types=types,
        max_categories=max_categories,
        schema=_schema(obj.get("schema", {}), f"{where}.schema"),
        accepted_change=_accepted(obj.get("accepted_change", {}), f"{where}.accepted_change"),
        accepted_change_sigma=_number(sigma, f"{where}.accepted_change_sigma"),
        drift=drift,
        features=features,
    )


def _schema(raw: Any, where: str) -> SchemaSpec:
    obj = _object(raw, where)
    known = set(SchemaSpec.__dataclass_fields__)
    _keys(obj, where, known)
    columns = {
        name: _column(value, f"{where}.columns.{name}")
        for name, value in _object(obj.get("columns", {}), f"{where}.columns").items()
    }
    flags = {k: _bool(obj[k], f"{where}.{k}") for k in ("infer", "allow_extra_columns") if k in obj}
    shares = {
        k: _share(obj[k], f"{where}.{k}")
        for k in ("null_rate_tolerance", "out_of_range_share", "unseen_share")
        if k in obj
    }
    return SchemaSpec(columns=columns, **flags, **shares)  # type: ignore[arg-type]


def _column(raw: Any, where: str) -> ColumnSpec:
    obj = _object(raw, where)
    _keys(obj, where, set(ColumnSpec.__dataclass_fields__))
    allowed = obj.get("allowed")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed)
    ):
        raise ConfigError(f"{where}.allowed: expected a list of strings")
    nullable = obj.get("nullable")
    return ColumnSpec(
        type=None if obj.get("type") is None else _choice(obj["type"], f"{where}.type", KINDS),
        nullable=None if nullable is None else _bool(nullable, f"{where}.nullable"),
        max_null_rate=_optional(obj, "max_null_rate", where, _share),
        min=_optional(obj, "min", where, _number),
        max=_optional(obj, "max", where, _number),
        max_out_of_range_share=_optional(obj, "max_out_of_range_share", where, _share),
        allowed=None if allowed is None else tuple(allowed),
        max_unseen_share=_optional(obj, "max_unseen_share", where, _share),
    )


def _accepted(raw: Any, where: str) -> dict[str, float]:
    obj = _object(raw, where)
    _keys(obj, where, set(SUMMARY_METRICS))
    out = {key: _number(value, f"{where}.{key}") for key, value in obj.items()}
    for key, value in out.items():
        if value < 0:
            raise ConfigError(f"{where}.{key}: must not be negative")
    return out


def _object(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _keys(obj: Mapping[str, Any], where: str, known: set[str]) -> None:
    for key in obj:
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(known))})")


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _share(raw: Any, where: str) -> float:
    value = _number(raw, where)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where}: expected a share in [0, 1], got {raw!r}")
    return value


def _bool(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    return raw


def _choice(raw: Any, where: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {raw!r}")
    return str(raw)


def _optional(obj: Mapping[str, Any], key: str, where: str, parse: Any) -> Any:
    return None if obj.get(key) is None else parse(obj[key], f"{where}.{key}")
