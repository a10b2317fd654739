"""JSON form of drift and validation results, used by the API, the CLI and storage.

Non-finite numbers (which strict JSON cannot hold) are written as null and read back as
NaN, so every document stays valid JSON. The readers raise only ``ResultDecodeError``,
whatever the document holds, so one damaged stored row cannot stop a restore.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlspan.collector.drift.results import (
    DatasetDrift,
    FeatureDrift,
    MetricResult,
    ModelKey,
    ValidationResult,
)


class ResultDecodeError(ValueError):
    """A JSON document that is not a drift or validation result."""


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def key_to_json(key: ModelKey) -> dict[str, str]:
    """A model key as a JSON object."""
    return {"service": key.service, "model": key.model_name, "version": key.model_version}


def key_from_json(raw: Mapping[str, Any]) -> ModelKey:
    """Inverse of ``key_to_json``."""
    return ModelKey(str(raw["service"]), str(raw["model"]), str(raw["version"]))


def drift_to_json(drift: DatasetDrift) -> dict[str, Any]:
    """A dataset drift result as a JSON object."""
    return {
        **key_to_json(drift.key),
        "window_start": drift.window_start,
        "window_end": drift.window_end,
        "drifted_share": drift.drifted_share,
        "drifted": drift.drifted,
        "insight": drift.insight,
        "features": [
            {
                "feature": f.feature,
                "kind": f.kind,
                "origin": f.origin,
                "drifted": f.drifted,
                "insight": f.insight,
                "baseline_count": f.baseline_count,
                "current_count": f.current_count,
                "metrics": [
                    {
                        "name": m.name,
                        "value": _num(m.value),
                        "threshold": _num(m.threshold),
                        "p_value": _num(m.p_value),
                        "drifted": m.drifted,
                    }
                    for m in f.metrics
                ],
            }
            for f in drift.features
        ],
    }


def drift_from_json(raw: Mapping[str, Any]) -> DatasetDrift:
    """Inverse of ``drift_to_json``; raises ``ResultDecodeError``."""
    try:
        return _drift_from_json(raw)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ResultDecodeError(f"not a drift result: {type(exc).__name__}: {exc}") from exc


def _drift_from_json(raw: Mapping[str, Any]) -> DatasetDrift:
    features = tuple(
        FeatureDrift(
            feature=str(f["feature"]),
            kind=str(f["kind"]),
            origin=str(f["origin"]),
            metrics=tuple(
                MetricResult(
                    str(m["name"]),
                    _float(m["value"]),
                    None if m["threshold"] is None else float(m["threshold"]),
                    None if m["p_value"] is None else float(m["p_value"]),
                    bool(m["drifted"]),
                )
                for m in f["metrics"]
            ),
            drifted=bool(f["drifted"]),
            insight=str(f["insight"]),
            baseline_count=int(f["baseline_count"]),
            current_count=int(f["current_count"]),
        )
        for f in raw["features"]
    )
    return DatasetDrift(
        key=key_from_json(raw),
        window_start=float(raw["window_start"]),
        window_end=float(raw["window_end"]),
        features=features,
        drifted_share=float(raw["drifted_share"]),
        drifted=bool(raw["drifted"]),
        insight=str(raw["insight"]),
    )


def validation_to_json(result: ValidationResult) -> dict[str, Any]:
    """A validation result as a JSON object."""
    observed: float | str | None = result.observed
    if isinstance(observed, float):
        observed = _num(observed)
    limit: float | str | None = result.limit
    if isinstance(limit, float):
        limit = _num(limit)
    return {
        **key_to_json(result.key),
        "feature": result.feature,
        "check": result.check,
        "passed": result.passed,
        "observed": observed,
        "limit": limit,
        "insight": result.insight,
    }


def validation_from_json(raw: Mapping[str, Any]) -> ValidationResult:
    """Inverse of ``validation_to_json``; raises ``ResultDecodeError``."""
    try:
        return _validation_from_json(raw)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ResultDecodeError(f"not a validation result: {type(exc).__name__}: {exc}") from exc


def _validation_from_json(raw: Mapping[str, Any]) -> ValidationResult:
    observed = raw["observed"]
    limit = raw["limit"]
    return ValidationResult(
        key=key_from_json(raw),
        feature=str(raw["feature"]),
        check=str(raw["check"]),
        passed=bool(raw["passed"]),
        observed=observed if isinstance(observed, str) else _float(observed),
        limit=limit if isinstance(limit, str) else _float(limit),
        insight=str(raw["insight"]),
    )
