"""Mergeable summary of a numerical feature: null counts, exact moments, a KLL sketch.

The KLL quantile sketch (Apache DataSketches) gives every quantile and CDF value within
a known rank error (about 1.3 % at k=200, 0.5 % at k=1024) in a few KB, and sketches of
different batches merge within the same bound. That is what lets the collector compute
KS, Wasserstein, PSI and Jensen-Shannon from summaries without any raw data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from datasketches import kll_doubles_sketch

from mlspan.summaries.kll_build import kll_from_sorted, kll_from_weighted
from mlspan.summaries.moments import Moments

DEFAULT_KLL_K = 200
"""Default KLL accuracy parameter: ~1.3 % rank error, ~2.5 KB at a million values."""

SKETCH_PREFIX = "kll_doubles"


@dataclass(frozen=True)
class NumericalSummary:
    """Summary of one numerical feature.

    ``count`` counts every value, nulls included; ``nulls`` counts every missing value
    (``nan`` of them were float NaN); ``inf`` counts infinities. ``moments`` and the
    sketch describe only the finite values.
    """

    count: int
    nulls: int
    nan: int
    inf: int
    moments: Moments
    sketch_bytes: bytes = field(repr=False)
    k: int = DEFAULT_KLL_K

    @classmethod
    def from_values(
        cls, values: npt.ArrayLike, nulls: int = 0, k: int = DEFAULT_KLL_K
    ) -> NumericalSummary:
        """Summarise an array of numbers; NaN counts as a null, +-inf as infinite.

        ``nulls`` adds missing values the caller already removed (e.g. pandas NA). The
        values are sorted once (a private copy): sorting puts -inf first and NaN and +inf
        last, so the finite values are one contiguous slice whose ends are the minimum
        and maximum, the moments need no masks, and the KLL sketch is built from the
        sorted slice in one pass (``kll_from_sorted``) instead of value by value.
        """
        ordered = np.sort(np.asarray(values, dtype=np.float64).ravel())
        size = int(ordered.size)
        first_nan = int(np.searchsorted(ordered, np.nan, side="left"))
        low = int(np.searchsorted(ordered[:first_nan], -np.inf, side="right"))
        high = int(np.searchsorted(ordered[:first_nan], np.inf, side="left"))
        finite = ordered[low:high]
        nan = size - first_nan
        sketch_bytes = kll_from_sorted(finite, k)
        moments = Moments()
        if finite.size and not _plain_powers_fit(finite):
            moments = Moments.from_array(finite)  # scaled: values beyond ~1e70 or 1e-70
        elif finite.size:
            lowest, highest, mean = float(finite[0]), float(finite[-1]), float(finite.mean())
            # ``finite`` views the private sorted copy, free to overwrite now that the
            # sketch is built: the powers are computed in place with one temporary.
            deviation = np.subtract(finite, mean, out=finite)
            squared = np.multiply(deviation, deviation)
            m2 = float(squared.sum())
            m3 = float(np.multiply(squared, deviation, out=deviation).sum())
            m4 = float(np.multiply(squared, squared, out=squared).sum())
            moments = Moments(int(finite.size), mean, m2, m3, m4, lowest, highest)
        return cls(
            count=size + nulls,
            nulls=nulls + nan,
            nan=nan,
            inf=size - nan - int(finite.size),
            moments=moments,
            sketch_bytes=sketch_bytes,
            k=k,
        )

    @classmethod
    def from_weighted(
        cls,
        values: npt.ArrayLike,
        weights: npt.ArrayLike,
        nulls: int = 0,
        k: int = DEFAULT_KLL_K,
    ) -> NumericalSummary:
        """The summary ``from_values`` gives for ``values[i]`` repeated ``weights[i]``
        times, built without repeating them: the work is bounded by ``len(values)`` (plus
        ``O(k)`` look-ups), not by the sum of the weights, which may be as large as
        2**62. NaN values count as nulls, +-inf as infinite, as in ``from_values``.
        """
        labels = np.asarray(values, dtype=np.float64).ravel()
        counts = np.asarray(weights, dtype=np.int64).ravel()
        if labels.shape != counts.shape or (counts < 0).any():
            raise ValueError("values and non-negative weights must pair up")
        keep = counts > 0
        labels, counts = labels[keep], counts[keep]
        if int(counts.sum(dtype=np.float64)) >= 1 << 62:
            raise ValueError("weights add up to 2**62 or more")
        order = np.argsort(labels, kind="stable")
        labels, counts = labels[order], counts[order]
        nan = int(counts[np.isnan(labels)].sum())
        inf = int(counts[np.isinf(labels)].sum())
        finite = np.isfinite(labels)
        distinct, inverse = np.unique(labels[finite], return_inverse=True)
        merged = np.zeros(distinct.size, dtype=np.int64)
        np.add.at(merged, inverse, counts[finite])
        total = int(counts.sum())
        return cls(
            count=total + nulls,
            nulls=nulls + nan,
            nan=nan,
            inf=inf,
            moments=Moments.from_weighted(distinct, merged),
            sketch_bytes=kll_from_weighted(distinct, merged, k),
            k=k,
        )

    def sketch(self) -> kll_doubles_sketch:
        """The deserialized KLL sketch (a new object each call).

        Trusts ``sketch_bytes``: DataSketches' deserializer reads out of bounds on
        corrupt bytes. Summaries built here are well-formed; bytes from elsewhere (a
        span, a file) must pass a bounds-checked reader first, as the collector's
        ``decode_summary`` does.
        """
        return kll_doubles_sketch.deserialize(self.sketch_bytes)

    @property
    def sketch_type(self) -> str:
        """The wire name of the sketch: ``kll_doubles:<k>``."""
        return f"{SKETCH_PREFIX}:{self.k}"

    @property
    def rank_error(self) -> float:
        """Two-sided normalized rank error bound of the sketch (0 when exact)."""
        sketch = self.sketch()
        if not sketch.is_estimation_mode():
            return 0.0
        return float(sketch.normalized_rank_error(False))

    def merge(self, other: NumericalSummary) -> NumericalSummary:
        """The summary of both samples; moments merge exactly, the sketch within its bound."""
        merged = self.sketch()
        merged.merge(other.sketch())
        return NumericalSummary(
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            nan=self.nan + other.nan,
            inf=self.inf + other.inf,
            moments=self.moments.merge(other.moments),
            sketch_bytes=bytes(merged.serialize()),
            k=min(self.k, other.k),
        )

    @property
    def null_rate(self) -> float:
        """Share of missing values."""
        return self.nulls / self.count if self.count else 0.0


_PLAIN_LIMIT = 1e70
"""Largest deviation whose 4th power, summed over 2**53 values, stays inside float64."""


def _plain_powers_fit(ordered: npt.NDArray[np.float64]) -> bool:
    """Whether the fast in-place moments of the sorted finite ``ordered`` can neither
    overflow (a sum of 4th powers) nor underflow to nothing (all deviations below ~1e-77):
    otherwise ``Moments.from_array`` computes them on scaled values."""
    magnitude = max(abs(float(ordered[0])), abs(float(ordered[-1])))
    return 1e-60 < magnitude < _PLAIN_LIMIT or magnitude == 0.0
