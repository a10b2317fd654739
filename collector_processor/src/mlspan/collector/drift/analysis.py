"""Compares one model's window with its baseline: drift for every feature, then validation.

The validation config of the model (if any) decides each feature's kind (the
data-format identifier), its thresholds and the accepted summary-metric changes.
Baseline profiles (deserialized sketches and their quantile grids) are kept until the
baseline changes, so a window costs only the current side's work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlspan.collector.drift.categorical import compare_categorical
from mlspan.collector.drift.comparison import Comparison
from mlspan.collector.drift.decision import FeatureInput, judge_dataset
from mlspan.collector.drift.numerical import NumericalProfile, compare_numerical
from mlspan.collector.drift.results import DatasetDrift, ValidationResult
from mlspan.collector.drift.state import FeatureId, ModelState, Window
from mlspan.collector.validation.checks import validate
from mlspan.collector.validation.config import ValidationConfig
from mlspan.collector.validation.format import reclassify, target_kind
from mlspan.semconv.values import FeatureOrigin
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary


@dataclass
class ProfileCache:
    """Prepared baseline profiles per model, valid for one baseline version."""

    entries: dict[object, tuple[int, dict[FeatureId, NumericalProfile]]] = field(
        default_factory=dict
    )

    def get(self, state: ModelState) -> dict[FeatureId, NumericalProfile]:
        """The profile dict of ``state``'s current baseline (emptied when it changed)."""
        version, profiles = self.entries.get(state.key, (-1, {}))
        if version != state.version:
            profiles = {}
            self.entries[state.key] = (state.version, profiles)
        return profiles


def analyze(
    state: ModelState, window: Window, config: ValidationConfig, cache: ProfileCache
) -> tuple[DatasetDrift, list[ValidationResult]]:
    """Drift and validation results of ``window`` against ``state``'s baseline."""
    profiles = cache.get(state)
    inputs: list[FeatureInput] = []
    baseline_inputs: dict[str, FeatureSummary] = {}
    current_inputs: dict[str, FeatureSummary] = {}
    for fid in sorted(window.features):
        name, origin = fid
        if config.feature_types.get(name) == "ignore":
            continue
        current = window.features[fid]
        reference = state.baseline.get(fid)
        if reference is not None:
            kind = target_kind(reference, config.feature_types.get(name), config.max_categories)
            reference, current = reclassify(reference, kind), reclassify(current, kind)
        if origin == FeatureOrigin.INPUT.value:
            current_inputs[name] = current
            if reference is not None:
                baseline_inputs[name] = reference
        if reference is None or reference.kind != current.kind:
            continue
        comparison = _compare(fid, reference, current, profiles)
        accepted = config.accepted_for(name).get("mean")
        inputs.append(FeatureInput(name, origin, comparison, config.thresholds_for(name), accepted))
    for fid, reference in state.baseline.items():
        name = fid[0]
        forced = config.feature_types.get(name)
        if (
            fid[1] == FeatureOrigin.INPUT.value
            and name not in baseline_inputs
            and forced != "ignore"
        ):
            kind = target_kind(reference, forced, config.max_categories)
            baseline_inputs[name] = reclassify(reference, kind)
    drift = judge_dataset(state.key, (window.first, window.last), inputs, config.drift)
    checks = validate(state.key, baseline_inputs, current_inputs, config)
    return drift, checks


def _compare(
    fid: FeatureId,
    reference: FeatureSummary,
    current: FeatureSummary,
    profiles: Mapping[FeatureId, NumericalProfile],
) -> Comparison:
    ref_stats, cur_stats = reference.stats, current.stats
    if isinstance(ref_stats, NumericalSummary) and isinstance(cur_stats, NumericalSummary):
        profile = profiles.get(fid)
        if profile is None or profile.summary is not ref_stats:
            profile = NumericalProfile.of(ref_stats)
            if isinstance(profiles, dict):
                profiles[fid] = profile
        return compare_numerical(profile, NumericalProfile.of(cur_stats))
    if isinstance(ref_stats, CategoricalSummary) and isinstance(cur_stats, CategoricalSummary):
        return compare_categorical(ref_stats, cur_stats)
    raise ValueError(f"feature {fid[0]}: kinds differ")
