"""Merges many summaries of one feature in one pass, as a batch of spans delivers them.

Merging two summaries at a time (``FeatureSummary.merge``) deserializes both sketches,
merges them and serializes the result, and merges the moments with a scaled, fully
guarded update: right for two, wasteful for the dozens of summaries of one feature a
batch of scoring spans carries. Here the sketches of a group are deserialized once
each and merged into one native sketch serialized once, and the moments of the group
combine in one vectorised step (the multi-sample form of the pairwise update, with the
deviations taken from the group's mean). Where that step could lose range (a non-finite
input or result) the guarded pairwise merge is used instead, so the answer is the one
``FeatureSummary.merge`` folds to, within float rounding.

Only summaries that passed ``decode_summary`` reach this module: their sketch bytes were
bounds-checked before any native code reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

import numpy as np
from datasketches import kll_doubles_sketch

from mlspan.summaries import FeatureSummary, Moments, NumericalSummary


def merge_all(summaries: Sequence[FeatureSummary]) -> FeatureSummary:
    """The summary of every sample in ``summaries`` (one feature, one kind, at least one)."""
    first = summaries[0]
    if len(summaries) == 1:
        return first
    stats = [s.stats for s in summaries]
    numerical = [s for s in stats if isinstance(s, NumericalSummary)]
    if len(numerical) != len(stats):
        return reduce(FeatureSummary.merge, summaries)
    merged = NumericalSummary(
        count=sum(s.count for s in numerical),
        nulls=sum(s.nulls for s in numerical),
        nan=sum(s.nan for s in numerical),
        inf=sum(s.inf for s in numerical),
        moments=merge_moments([s.moments for s in numerical]),
        sketch_bytes=_merge_kll([s.sketch_bytes for s in numerical]),
        k=min(s.k for s in numerical),
    )
    return FeatureSummary(first.name, first.kind, first.origin, first.dtype, merged)


def _merge_kll(blobs: Sequence[bytes]) -> bytes:
    sketch = kll_doubles_sketch.deserialize(blobs[0])
    for blob in blobs[1:]:
        sketch.merge(kll_doubles_sketch.deserialize(blob))
    return bytes(sketch.serialize())


def merge_moments(parts: Sequence[Moments]) -> Moments:
    """The moments of all samples together.

    With ``d_i`` the deviation of sample ``i``'s mean from the overall mean, the sums of
    powered deviations are ``M2 = sum(M2_i + n_i d_i^2)``, ``M3 = sum(M3_i + 3 d_i M2_i +
    n_i d_i^3)`` and ``M4 = sum(M4_i + 4 d_i M3_i + 6 d_i^2 M2_i + n_i d_i^4)``. The
    overall mean is taken relative to the first sample's mean, which keeps it exact to
    rounding for data far from zero. Falls back to ``Moments.merge`` pairwise when an
    input or a result is not finite.
    """
    present = [m for m in parts if m.count]
    if len(present) <= 1:
        return present[0] if present else (parts[0] if parts else Moments())
    table = np.array([(m.count, m.mean, m.m2, m.m3, m.m4) for m in present], dtype=np.float64).T
    n_i, mean_i, m2_i, m3_i, m4_i = table
    low = min(m.min for m in present)
    high = max(m.max for m in present)
    with np.errstate(all="ignore"):
        n = float(n_i.sum())
        origin = float(mean_i[0])
        mean = origin + float(np.dot(n_i, mean_i - origin)) / n
        d = mean_i - mean
        d2 = d * d
        m2 = float(np.sum(m2_i + n_i * d2))
        m3 = float(np.sum(m3_i + 3.0 * d * m2_i + n_i * d2 * d))
        m4 = float(np.sum(m4_i + 4.0 * d * m3_i + 6.0 * d2 * m2_i + n_i * d2 * d2))
        finite = bool(np.isfinite(table).all()) and np.isfinite([mean, m2, m3, m4]).all()
    if not finite or m2 < 0.0 or m4 < 0.0:
        return reduce(Moments.merge, present)
    return Moments(
        count=sum(m.count for m in present),
        mean=min(max(mean, low), high),
        m2=m2,
        m3=m3,
        m4=m4,
        min=low,
        max=high,
    )
