"""Turns comparisons into per-feature and dataset drift decisions with insights.

Every judged feature's two-sample test (sketch-aware KS or chi-square) is corrected
across the model's features (Benjamini-Hochberg by default, or Holm), and the corrected
p-value is reported at every sample size. Under the ``mlspan`` preset a feature drifts
when that p-value is below ``alpha`` *and* an effect size reaches its materiality floor:
significance alone would flag a 0.03 sigma shift at 100k rows (exact KS p ~ 1e-9),
effect sizes alone miss a top category falling from 40 % to 30 % (JS 0.087) and read
sketch noise as drift. Under the ``evidently`` preset the test decides on samples of at
most ``test_max_rows`` rows and the effect sizes on larger ones, as Evidently does. The
dataset drifts when the share of drifted features reaches ``dataset_share``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlspan.collector.drift.comparison import Comparison
from mlspan.collector.drift.insight import LABELS, feature_insight, mean_change_text, percent_text
from mlspan.collector.drift.results import DatasetDrift, FeatureDrift, MetricResult, ModelKey
from mlspan.collector.drift.thresholds import METRIC_NAMES, DriftThresholds

__all__ = [
    "LABELS",
    "FeatureInput",
    "adjust_p_values",
    "judge_dataset",
    "judge_feature",
    "mean_change_text",
    "percent_text",
]


@dataclass(frozen=True)
class FeatureInput:
    """One feature to judge: its comparison and the thresholds that apply to it."""

    feature: str
    origin: str
    comparison: Comparison
    thresholds: DriftThresholds
    accepted_mean: float | None = None
    """Accepted mean change in percent from the validation config, for the insight."""


def adjust_p_values(p_values: Sequence[float], method: str) -> list[float]:
    """Benjamini-Hochberg ("bh") or Holm ("holm") adjusted p-values; "none" keeps them."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0 or method == "none":
        return [float(v) for v in p]
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adjusted = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in out]


def judge_dataset(
    key: ModelKey,
    window: tuple[float, float],
    features: Sequence[FeatureInput],
    thresholds: DriftThresholds,
) -> DatasetDrift:
    """Decide every feature and the dataset; ``thresholds`` gives alpha, correction, share."""
    tested = [
        i
        for i, item in enumerate(features)
        if _judged(item) and item.comparison.test in item.comparison.p_values
    ]
    raw = [features[i].comparison.p_values[features[i].comparison.test] for i in tested]
    adjusted = dict(zip(tested, adjust_p_values(raw, thresholds.correction), strict=True))
    results = tuple(
        judge_feature(item, adjusted.get(i), thresholds.alpha, thresholds.correction)
        for i, item in enumerate(features)
    )
    judged = [f for f, item in zip(results, features, strict=True) if _judged(item)]
    drifted = [f.feature for f in judged if f.drifted]
    share = len(drifted) / len(judged) if judged else 0.0
    dataset_drifted = bool(judged) and share >= thresholds.dataset_share
    verdict = "dataset drift" if dataset_drifted else "no dataset drift"
    insight = (
        f"{key.model_name} {key.model_version}: {len(drifted)} of {len(judged)} features drifted"
        f" ({share:.0%}, threshold {thresholds.dataset_share:.0%}) -> {verdict}"
    )
    if drifted:
        insight += f"; drifted: {', '.join(drifted)}"
    if not features:
        insight = f"{key.model_name} {key.model_version}: no baseline to compare with yet"
    return DatasetDrift(key, window[0], window[1], results, share, dataset_drifted, insight)


def judge_feature(
    item: FeatureInput, adjusted_p: float | None, alpha: float, correction: str | None = None
) -> FeatureDrift:
    """Decide one feature; ``adjusted_p`` is its test p-value after ``correction`` (the
    model's; the feature's own by default), if it has a test."""
    comparison, limits = item.comparison, item.thresholds
    metrics = _metrics(comparison, limits, adjusted_p)
    if comparison.test == "chi2" and adjusted_p is not None:
        metrics.append(MetricResult("chi2_p", adjusted_p, alpha, adjusted_p, adjusted_p < alpha))
    rows = min(comparison.baseline_rows, comparison.current_rows)
    material = any(m.drifted for m in metrics if m.name != "chi2_p")
    significant = adjusted_p is not None and adjusted_p < alpha
    if not _judged(item):
        drifted, verdict = False, "not judged"
    elif limits.significant_and_material:
        drifted = significant and material
        verdict = "drift" if drifted else "no drift"
        if material and not significant:
            verdict += " (not significant)"
        elif significant and not material:
            verdict += " (below every materiality floor)"
    elif adjusted_p is not None and rows <= limits.test_max_rows:
        drifted = significant
        verdict = "drift" if drifted else "no drift"
    else:
        drifted = material
        verdict = "drift" if drifted else "no drift"
    if _judged(item):
        insight = feature_insight(
            item.feature,
            comparison,
            correction or limits.correction,
            metrics,
            verdict,
            adjusted_p,
            item.accepted_mean,
        )
    else:
        insight = f"{item.feature}: {rows} rows, fewer than {limits.min_rows} -> not judged"
    return FeatureDrift(
        feature=item.feature,
        kind=comparison.kind,
        origin=item.origin,
        metrics=tuple(metrics),
        drifted=drifted,
        insight=insight,
        baseline_count=comparison.baseline_rows,
        current_count=comparison.current_rows,
    )


def _metrics(
    comparison: Comparison, limits: DriftThresholds, adjusted_p: float | None
) -> list[MetricResult]:
    """Each metric against its threshold; the KS metric carries the corrected p-value.

    Under the ``evidently`` preset Jensen-Shannon decides only categorical features
    (Evidently's numerical default is the Wasserstein distance alone).
    """
    metrics: list[MetricResult] = []
    for name in METRIC_NAMES:
        if name not in comparison.values:
            continue
        value = comparison.values[name]
        threshold = limits.threshold(name)
        if name == "js" and comparison.kind == "numerical" and not limits.significant_and_material:
            threshold = None
        p_value = adjusted_p if name == "ks" and comparison.test == "ks" else None
        over = threshold is not None and abs(value) >= threshold
        metrics.append(MetricResult(name, value, threshold, p_value, over))
    return metrics


def _judged(item: FeatureInput) -> bool:
    rows = min(item.comparison.baseline_rows, item.comparison.current_rows)
    return rows >= max(item.thresholds.min_rows, 1)
