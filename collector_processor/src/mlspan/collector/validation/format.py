"""The data-format identifier: which kind each feature is compared as.

The instrumentation classifies features when it summarises them; the validation config
can force a kind per feature, or move features across by cardinality: a numerical feature
with at most ``max_categories`` distinct values becomes categorical (possible while its
sketch still holds every value), and a categorical feature whose labels are all numbers
and which has more distinct values becomes numerical. Baseline and current go through
the same rule, so both sides are always compared as the same kind.

Counts come from requests, so no conversion expands them into values: categories become
a numerical summary built from (label, count) pairs, and numbers become categories only
while the sketch holds every value (at most ``k`` of them).
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np

from mlspan.collector.drift.summary_check import MAX_MAGNITUDE
from mlspan.semconv.values import FeatureKind
from mlspan.summaries import CategoricalSummary, FeatureSummary, NumericalSummary

logger = logging.getLogger(__name__)

MAX_WEIGHT: Final = float(1 << 62)
"""Largest total count converted to numerical (the KLL sketch counts in 64 bits)."""


def target_kind(
    baseline: FeatureSummary, forced: str | None, max_categories: int | None
) -> str | None:
    """The kind both sides of a feature are compared as, decided on the baseline."""
    if forced is not None:
        return forced
    if max_categories is not None:
        return _by_cardinality(baseline, max_categories)
    return None


def reclassify(summary: FeatureSummary, target: str | None) -> FeatureSummary:
    """``summary`` converted to ``target`` kind; unchanged when it cannot be."""
    if target is None or target == summary.kind.value:
        return summary
    converted = (
        _to_categorical(summary.stats)
        if target == FeatureKind.CATEGORICAL.value
        else _to_numerical(summary.stats)
    )
    if converted is None:
        logger.info("feature %s cannot be compared as %s", summary.name, target)
        return summary
    kind = FeatureKind(target)
    return FeatureSummary(summary.name, kind, summary.origin, summary.dtype, converted)


def _by_cardinality(summary: FeatureSummary, max_categories: int) -> str | None:
    stats = summary.stats
    if isinstance(stats, NumericalSummary):
        values = _exact_values(stats)
        if values is not None and np.unique(values).size <= max_categories:
            return FeatureKind.CATEGORICAL.value
        return None
    if len(stats.counts) > max_categories and _numeric_labels(stats) is not None:
        return FeatureKind.NUMERICAL.value
    return None


def _exact_values(stats: NumericalSummary) -> np.ndarray | None:
    sketch = stats.sketch()
    n = int(sketch.n)
    if sketch.is_estimation_mode():
        return None
    if n == 0:
        return np.empty(0)
    return np.asarray(sketch.get_quantiles((np.arange(n) + 0.5) / n), dtype=np.float64)


def _to_categorical(stats: NumericalSummary | CategoricalSummary) -> CategoricalSummary | None:
    if not isinstance(stats, NumericalSummary):
        return None
    values = _exact_values(stats)
    if values is None:
        return None
    labels, counts = np.unique(values, return_counts=True)
    mapping = {f"{label:g}": int(count) for label, count in zip(labels, counts, strict=True)}
    return CategoricalSummary.from_counts(mapping, nulls=stats.nulls + stats.inf)


def _numeric_labels(stats: CategoricalSummary) -> np.ndarray | None:
    try:
        return np.array([float(label) for label in stats.counts], dtype=np.float64)
    except ValueError:
        return None


def _to_numerical(stats: NumericalSummary | CategoricalSummary) -> NumericalSummary | None:
    """The numerical summary of exact categories with numeric labels, built from the
    (label, count) pairs: the work is bounded by the number of labels (at most the
    cardinality cap), never by the counts, which a request sets (up to 2**53 each)."""
    if not isinstance(stats, CategoricalSummary) or not stats.exact:
        return None
    labels = _numeric_labels(stats)
    if labels is None:
        return None
    finite = labels[np.isfinite(labels)]
    if finite.size and float(np.abs(finite).max()) > MAX_MAGNITUDE:
        return None  # beyond what decoded numerical summaries may hold
    counts = np.fromiter(stats.counts.values(), dtype=np.int64, count=len(stats.counts))
    if float(counts.sum(dtype=np.float64)) >= MAX_WEIGHT:
        return None
    return NumericalSummary.from_weighted(labels, counts, nulls=stats.nulls)
