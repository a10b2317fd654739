"""Per-feature drift between two versions' training sets, from their stored summaries.

The summaries are read back through the drift engine's checked decoder and compared
with its tests (sketch-aware KS and effect sizes for numerical features, two-sample
contingency tests for categorical ones), corrected across features and judged with the
default thresholds: the same decision ``mlspan drift`` makes between a baseline and a
window, here between the training data of version A (baseline) and of version B.
"""

from __future__ import annotations

import json
from typing import Any

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.decision import FeatureInput, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import ModelKey
from mlspan.collector.drift.summary_check import BadSummary, decode_summary
from mlspan.collector.drift.thresholds import DriftThresholds
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary

_INPUT = FeatureOrigin.INPUT.value


def decoded(text: str) -> dict[str, FeatureSummary]:
    """The input features' summaries by name (undecodable ones left out)."""
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return {}
    found: dict[str, FeatureSummary] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            summary = decode_summary(item)
        except (BadSummary, ValueError, TypeError):
            continue
        if summary.origin.value == _INPUT:
            found[summary.name] = summary
    return found


def training_drift(key: ModelKey, a: str, b: str) -> dict[str, Any]:
    """Drift of B's training features against A's, with the schema differences."""
    before, after = decoded(a), decoded(b)
    inputs: list[FeatureInput] = []
    kinds_changed: list[str] = []
    thresholds = DriftThresholds()
    for name in sorted(before.keys() & after.keys()):
        ref, cur = before[name].stats, after[name].stats
        if isinstance(ref, NumericalSummary) and isinstance(cur, NumericalSummary):
            comparison = compare_numerical(NumericalProfile.of(ref), NumericalProfile.of(cur))
        elif isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
            comparison = compare_categorical(ref, cur)
        else:
            kinds_changed.append(name)
            continue
        inputs.append(FeatureInput(name, _INPUT, comparison, thresholds))
    if not inputs and not (before or after):
        return {"compared": False, "reason": "no feature summaries of either training set"}
    drift = judge_dataset(key, (0.0, 0.0), inputs, thresholds)
    return {
        "compared": True,
        "features": [
            {
                "feature": f.feature,
                "kind": f.kind,
                "drifted": f.drifted,
                "insight": f.insight,
                "metrics": {m.name: m.value for m in f.metrics},
            }
            for f in drift.features
        ],
        "drifted_share": drift.drifted_share,
        "dataset_drift": drift.drifted,
        "only_in_a": sorted(before.keys() - after.keys()),
        "only_in_b": sorted(after.keys() - before.keys()),
        "kind_changed": kinds_changed,
        "insight": drift.insight,
    }
