"""Turns comparisons into per-feature and dataset drift decisions with insights.

Small samples (the smaller side at most ``test_max_rows``) are decided by each feature's
two-sample test, KS or chi-square, with the p-values corrected across all tested
features of the model (Benjamini-Hochberg by default, or Holm). Larger samples are
decided by effect sizes, because there every p-value is tiny for differences nobody
cares about; p-values are then not reported. The dataset drifts when the share of
drifted features reaches ``dataset_share``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from mlspan.collector.drift.comparison import Comparison
from mlspan.collector.drift.results import DatasetDrift, FeatureDrift, MetricResult, ModelKey
from mlspan.collector.drift.thresholds import METRIC_NAMES, DriftThresholds

LABELS: Final = MappingProxyType(
    {
        "wasserstein_sigma": "W/sigma",
        "psi": "PSI",
        "js": "JS",
        "ks": "KS D",
        "hellinger": "Hellinger",
        "linf": "L-inf",
        "mean_change_sigma": "mean change/sigma",
        "std_change": "std change",
        "skew_change": "skew change",
        "kurtosis_change": "kurtosis change",
        "null_rate_change": "null-rate change",
    }
)
"""How each metric is named in insights."""


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
        if _judged(item) and _tested(item) and item.comparison.test in item.comparison.p_values
    ]
    raw = [features[i].comparison.p_values[features[i].comparison.test] for i in tested]
    adjusted = dict(zip(tested, adjust_p_values(raw, thresholds.correction), strict=True))
    results = tuple(
        judge_feature(item, adjusted.get(i), thresholds.alpha) for i, item in enumerate(features)
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


def judge_feature(item: FeatureInput, adjusted_p: float | None, alpha: float) -> FeatureDrift:
    """Decide one feature; ``adjusted_p`` is its corrected test p-value when tested."""
    comparison, limits = item.comparison, item.thresholds
    metrics: list[MetricResult] = []
    for name in METRIC_NAMES:
        if name not in comparison.values:
            continue
        value = comparison.values[name]
        threshold = limits.threshold(name)
        p_value = adjusted_p if name == "ks" and comparison.test == "ks" else None
        if name == "mean_change_sigma" and adjusted_p is not None:
            p_value = comparison.p_values.get("welch")
        over = threshold is not None and abs(value) >= threshold
        metrics.append(MetricResult(name, value, threshold, p_value, over))
    if comparison.test == "chi2" and adjusted_p is not None:
        metrics.append(MetricResult("chi2_p", adjusted_p, alpha, adjusted_p, adjusted_p < alpha))
    if not _judged(item):
        drifted = False
    elif adjusted_p is not None:
        drifted = adjusted_p < alpha
    else:
        drifted = any(m.drifted for m in metrics)
    return FeatureDrift(
        feature=item.feature,
        kind=comparison.kind,
        origin=item.origin,
        metrics=tuple(metrics),
        drifted=drifted,
        insight=feature_insight(item, metrics, drifted, adjusted_p),
        baseline_count=comparison.baseline_rows,
        current_count=comparison.current_rows,
    )


def feature_insight(
    item: FeatureInput,
    metrics: Sequence[MetricResult],
    drifted: bool,
    adjusted_p: float | None,
) -> str:
    """One line for people: the headline change, the deciding metrics, the verdict."""
    comparison = item.comparison
    rows = min(comparison.baseline_rows, comparison.current_rows)
    if not _judged(item):
        return f"{item.feature}: {rows} rows, fewer than {item.thresholds.min_rows} -> not judged"
    parts: list[str] = []
    facts = comparison.facts
    if comparison.kind == "numerical":
        parts.append(f"mean {mean_change_text(facts, item.accepted_mean)}")
    elif facts.get("unseen_share", 0.0) > 0:
        parts.append(f"unseen categories {facts['unseen_share']:.1%}")
    by_name = {m.name: m for m in metrics}
    for name in ("wasserstein_sigma", "js", "psi"):
        metric = by_name.get(name)
        if metric is not None and (metric.threshold is not None or name != "psi"):
            parts.append(_metric_text(metric))
    parts.extend(
        _metric_text(m)
        for m in metrics
        if m.drifted and m.name not in ("wasserstein_sigma", "js", "psi", "chi2_p")
    )
    if adjusted_p is not None:
        test = "KS" if comparison.test == "ks" else "chi2"
        correction = item.thresholds.correction
        parts.append(f"{test} p={adjusted_p:.3g} ({correction}, n={rows})")
    return f"{item.feature}: {', '.join(parts)} -> {'drift' if drifted else 'no drift'}"


def mean_change_text(facts: dict[str, float], accepted: float | None = None) -> str:
    """E.g. "+34 % (accepted 10 %, +0.41 sigma)"; no percentage around a zero mean."""
    before, after = facts["baseline_mean"], facts["current_mean"]
    scale = facts["baseline_std"] or facts["current_std"] or 1.0
    sigma = f"{(after - before) / scale:+.2f} sigma"
    if abs(before) <= 1e-12 * max(abs(after), 1.0):
        return sigma
    note = f"accepted {accepted:g} %, {sigma}" if accepted is not None else sigma
    return f"{percent_text((after - before) / abs(before) * 100)} ({note})"


def percent_text(percent: float) -> str:
    """A signed percentage for people: "+34 %", "+2.5 %", "+11,239 %"."""
    if abs(percent) >= 100:
        return f"{percent:+,.0f} %"
    return f"{percent:+.2g} %" if abs(percent) < 10 else f"{percent:+.0f} %"


def _metric_text(metric: MetricResult) -> str:
    label = LABELS.get(metric.name, metric.name)
    if metric.threshold is None:
        return f"{label} {metric.value:.2f}"
    sign = ">=" if metric.drifted else "<"
    return f"{label} {metric.value:.2f} {sign} {metric.threshold:.2f}"


def _judged(item: FeatureInput) -> bool:
    rows = min(item.comparison.baseline_rows, item.comparison.current_rows)
    return rows >= max(item.thresholds.min_rows, 1)


def _tested(item: FeatureInput) -> bool:
    rows = min(item.comparison.baseline_rows, item.comparison.current_rows)
    return rows <= item.thresholds.test_max_rows
