"""Drift statistics of a categorical feature from two count summaries.

Distances (Jensen-Shannon, L-infinity, PSI) use every category seen on either side. The
test is the two-sample chi-square test of homogeneity on the 2 x k contingency table
(``scipy.stats.chi2_contingency``), not a goodness-of-fit test that would treat the
baseline's shares as known and over-reject. Categories with an expected count under 5
are pooled into one so the chi-square approximation holds. When a side has spilled into
a frequent-items sketch, both sides are compared over the values both still list, and
everything else forms one "other" category, and the test allows for the sketch's error
bound: each count of a sketched side is moved towards what homogeneity expects by up to
the sketch's maximum count error before the test, so estimation error alone cannot
reject.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np
from datasketches import frequent_items_error_type
from scipy import stats

from mlspan.collector.drift.comparison import Comparison, Shift
from mlspan.collector.drift.divergence import FloatArray, jensen_shannon, linf, psi, shares
from mlspan.summaries import CategoricalSummary

MIN_EXPECTED: Final = 5.0
"""Categories with a smaller expected count in either row are pooled for the test."""

OTHER: Final = "\x00other"
"""Bucket of values a sketch no longer counts individually."""

SHIFTS_SHOWN: Final = 2
"""Categories named in an insight."""


def count_error(summary: CategoricalSummary) -> float:
    """Largest error of one category's count: 0 for exact counts, else the sketch's own
    a-posteriori bound (the widest upper-minus-lower bound of the values it lists; often
    far below its a-priori bound epsilon x weight, and 0 while it has never purged)."""
    if summary.exact:
        return 0.0
    rows = summary.sketch().get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
    return float(max((upper - lower for _item, _estimate, lower, upper in rows), default=0))


def category_counts(summary: CategoricalSummary) -> dict[str, float]:
    """Non-missing counts per category, with the uncounted rest of a sketch as OTHER."""
    counts = {key: float(value) for key, value in summary.counts.items()}
    rest = summary.count - summary.nulls - sum(summary.counts.values())
    if rest > 0:
        counts[OTHER] = counts.get(OTHER, 0.0) + float(rest)
    return counts


def compare_categorical(reference: CategoricalSummary, current: CategoricalSummary) -> Comparison:
    """Every categorical drift metric of ``current`` against ``reference``."""
    ref_counts, cur_counts = category_counts(reference), category_counts(current)
    if not (reference.exact and current.exact):
        ref_counts, cur_counts = _common_categories(ref_counts, cur_counts)
    categories = sorted(set(ref_counts) | set(cur_counts))
    ref = np.array([ref_counts.get(c, 0.0) for c in categories], dtype=np.float64)
    cur = np.array([cur_counts.get(c, 0.0) for c in categories], dtype=np.float64)
    ref_rows, cur_rows = int(ref.sum()), int(cur.sum())
    values: dict[str, float] = {"null_rate_change": current.null_rate - reference.null_rate}
    p_values: dict[str, float] = {}
    unseen = float(cur[ref == 0].sum() / cur_rows) if cur_rows else 0.0
    facts = {"unseen_share": unseen, "categories": float(len(categories))}
    comparison = Comparison("categorical", values, p_values, "chi2", ref_rows, cur_rows, facts)
    if ref_rows == 0 or cur_rows == 0:
        return comparison
    values["js"] = jensen_shannon(ref, cur)
    values["linf"] = linf(ref, cur)
    values["psi"] = psi(ref, cur)
    sides = [count_error(reference), count_error(current)]
    errors = np.array(sides)[:, None] * np.ones(len(categories))
    if OTHER in categories:
        # The rest of a sketch is its total less the listed estimates: each estimate's
        # error can add up in it.
        errors[:, categories.index(OTHER)] *= max(len(categories) - 1, 1)
    p_values["chi2"] = contingency_p_value(ref, cur, errors)
    facts["count_error"] = max(sides)
    return dataclasses.replace(comparison, shifts=share_shifts(categories, ref, cur))


def share_shifts(
    categories: list[str], reference: FloatArray, current: FloatArray
) -> tuple[Shift, ...]:
    """The ``SHIFTS_SHOWN`` categories whose share changed most, largest first."""
    before, after = shares(reference), shares(current)
    order = np.argsort(-np.abs(after - before), kind="stable")[:SHIFTS_SHOWN]
    return tuple(
        Shift(
            "other" if categories[i] == OTHER else categories[i],
            float(before[i]),
            float(after[i]),
        )
        for i in order
        if after[i] != before[i]
    )


def _common_categories(
    reference: dict[str, float], current: dict[str, float]
) -> tuple[dict[str, float], dict[str, float]]:
    """Both sides over the categories both count, the rest of each side in OTHER.

    A frequent-items sketch lists only its most frequent values, and which values make
    the cut differs between two samples of one distribution; comparing the union would
    read a value listed on one side only as missing on the other (identical 5,000-value
    samples scored JS 0.13). Values outside the common list are folded into OTHER.
    """
    common = (set(reference) & set(current)) - {OTHER}
    folded = []
    for counts in (reference, current):
        kept = {c: counts[c] for c in common}
        rest = sum(counts.values()) - sum(kept.values())
        if rest > 0:
            kept[OTHER] = rest
        folded.append(kept)
    return folded[0], folded[1]


def contingency_p_value(
    reference: FloatArray, current: FloatArray, errors: FloatArray | None = None
) -> float:
    """p-value of the chi-square test of homogeneity, rare categories pooled.

    ``errors`` (2 x k, optional) bound each count's error (frequent-items sketches):
    every count is first moved towards its expected count by up to that much, the most
    the sketch can have added to the difference, so estimation error cannot reject.
    """
    table = np.vstack([reference, current])
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    if errors is not None and errors.any():
        table = table - np.clip(table - expected, -errors, errors)
        total = table.sum()
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    rare = (expected < MIN_EXPECTED).any(axis=0)
    if rare.any():
        pooled = table[:, rare].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~rare], pooled])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    result = stats.chi2_contingency(table)
    return float(result.pvalue)
