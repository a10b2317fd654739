"""Exact, mergeable central moments (count, mean, M2, M3, M4, min, max).

Summaries from many batches, processes and collector replicas must combine into exactly
the summary of the concatenated data, so the moments are kept as sums of powered
deviations and merged with the pairwise update of Pébay (2008), which is exact in real
arithmetic and numerically stable in floating point.

Nothing here raises on large values. The sums of 3rd and 4th powers of deviations of
values beyond ~1e77 exceed float64's range, so a sum that does is kept as ``inf`` (``m3``:
``-inf`` or ``inf`` by its sign; ``inf`` when merging opposite infinities leaves the sign
unknown) and the statistics that need it read NaN. Every computation works on values
scaled by a power of two (exact) and scales back by plain multiplication, which
saturates to ``inf`` where ``**`` and ``math.ldexp`` would raise ``OverflowError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def power_of_two_above(magnitude: float) -> float:
    """A power of two ``s`` with ``magnitude / s`` in ``[0, 2]`` (1 for 0; finite always)."""
    if magnitude == 0.0 or not math.isfinite(magnitude):
        return 1.0
    _, exponent = math.frexp(magnitude)
    return math.ldexp(1.0, min(exponent - 1, 1023))


def scale_power(value: float, scale: float, power: int) -> float:
    """``value * scale**power`` by repeated multiplication: ``inf`` on overflow, never an
    error, and 0 stays 0 (no ``0 * inf``)."""
    if value == 0.0 or math.isnan(value):
        return value
    for _ in range(power):
        value *= scale
    return value


def _sum(terms: list[float]) -> float:
    """Sum of floats of which some may be infinite: opposite infinities give ``inf``,
    NaN terms (``0 * inf``, ``inf - inf`` inside a term) are left out."""
    total = math.fsum(t for t in terms if math.isfinite(t))
    infinite = {t for t in terms if math.isinf(t)}
    if len(infinite) == 1:
        return infinite.pop()
    if infinite:
        return math.inf
    return total


@dataclass(frozen=True)
class Moments:
    """Moments of the finite values of one feature.

    ``m2``, ``m3`` and ``m4`` are sums of the 2nd, 3rd and 4th powers of deviations from
    ``mean``; ``count`` counts only the finite values they describe. A sum beyond
    float64's range is infinite (see the module docstring).
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def from_array(cls, values: npt.NDArray[np.float64]) -> Moments:
        """Moments of a 1-D array of finite floats (callers drop NaN and inf first)."""
        return cls.from_weighted(values, None)

    @classmethod
    def from_weighted(
        cls, values: npt.NDArray[np.float64], weights: npt.NDArray[np.int64] | None
    ) -> Moments:
        """Moments of finite ``values`` each repeated ``weights`` times (once if None).

        Works on the values over a power of two at least their magnitude, then on the
        deviations over a power of two at least theirs, so no power overflows or loses
        precision to underflow; the sums are scaled back with saturation.
        """
        x = np.asarray(values, dtype=np.float64)
        if x.size == 0:
            return cls()
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        n = float(x.size) if w is None else float(w.sum())
        if n == 0.0:
            return cls()
        low, high = float(x.min()), float(x.max())
        scale = power_of_two_above(max(abs(low), abs(high)))
        scaled = x / scale
        mean_scaled = float(scaled.mean() if w is None else np.dot(w / n, scaled))
        deviation = scaled - mean_scaled
        spread = power_of_two_above(float(np.abs(deviation).max()))
        deviation /= spread
        squared = deviation * deviation
        sums = [
            float(terms.sum() if w is None else np.dot(w, terms))
            for terms in (squared, squared * deviation, squared * squared)
        ]
        unit = scale * spread  # finite: at most 2**1023 * 4
        mean = min(max(mean_scaled * scale, low), high)
        count = int(x.size) if weights is None else int(np.asarray(weights).sum())
        return cls(
            count=count,
            mean=mean,
            m2=scale_power(sums[0], unit, 2),
            m3=scale_power(sums[1], unit, 3),
            m4=scale_power(sums[2], unit, 4),
            min=low,
            max=high,
        )

    def merge(self, other: Moments) -> Moments:
        """The moments of both samples together.

        Pébay's update on values over a power of two near the largest of the spread of
        the means and the inputs' own deviations, so that no term overflows where the
        result does not; infinite inputs stay infinite (``m3`` of opposite signs: ``inf``).
        """
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        na, nb = float(self.count), float(other.count)
        n = na + nb
        wa, wb = na / n, nb / n
        half_delta = other.mean / 2.0 - self.mean / 2.0  # finite even for means of +-1e308
        mean = self.mean + (half_delta * wb) * 2.0
        squares = [v for v in (self.m2 / na, other.m2 / nb) if math.isfinite(v)]
        typical = max([abs(half_delta)] + [math.sqrt(v) / 2.0 for v in squares])
        scale = power_of_two_above(typical)
        delta = (half_delta / scale) * 2.0
        a2, b2 = _down(self.m2, scale, 2), _down(other.m2, scale, 2)
        a3, b3 = _down(self.m3, scale, 3), _down(other.m3, scale, 3)
        a4, b4 = _down(self.m4, scale, 4), _down(other.m4, scale, 4)
        d_n = delta / n
        m2 = _sum([a2, b2, delta * d_n * na * nb])
        m3 = _sum(
            [
                a3,
                b3,
                delta * d_n * d_n * na * nb * (na - nb),
                3.0 * delta * (wa * b2 - wb * a2),
            ]
        )
        m4 = _sum(
            [
                a4,
                b4,
                delta * d_n * d_n * d_n * na * nb * (na * na - na * nb + nb * nb),
                6.0 * delta * delta * (wa * wa * b2 + wb * wb * a2),
                4.0 * delta * (wa * b3 - wb * a3),
            ]
        )
        m2 = scale_power(m2, scale, 2)
        # A term of 0 * inf (no difference of means) or inf - inf is left out of the sums
        # above; m4 >= m2**2 / n keeps the fourth sum infinite with the second.
        m4 = math.inf if math.isinf(m2) else scale_power(m4, scale, 4)
        return Moments(
            count=self.count + other.count,
            mean=min(max(mean, min(self.min, other.min)), max(self.max, other.max)),
            m2=m2,
            m3=scale_power(m3, scale, 3),
            m4=m4,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
        )

    @property
    def variance(self) -> float:
        """Unbiased sample variance (0 for fewer than two values)."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    @property
    def std(self) -> float:
        """Sample standard deviation."""
        return math.sqrt(max(self.variance, 0.0))

    @property
    def skewness(self) -> float:
        """Population skewness g1 (0 when the variance is 0; NaN when ``m2`` or ``m3``
        exceeded float64's range, which leaves it unknown).

        Computed as ``sqrt(n) * (m3 / m2) / sqrt(m2)``: ``|m3| / m2`` is at most the
        largest deviation, so no step overflows where ``m2**1.5`` would.
        """
        if self.count < 2 or self.m2 <= 0.0:
            return 0.0
        if not (math.isfinite(self.m2) and math.isfinite(self.m3)):
            return math.nan
        n = float(self.count)
        return math.sqrt(n) * (self.m3 / self.m2) / math.sqrt(self.m2)

    @property
    def kurtosis(self) -> float:
        """Excess kurtosis g2 (0 when the variance is 0; NaN when ``m2`` or ``m4``
        exceeded float64's range). ``n * (m4 / m2) / m2``: ``m4 / m2`` is at most the
        largest squared deviation, so nothing overflows that the result does not."""
        if self.count < 2 or self.m2 <= 0.0:
            return 0.0
        if not (math.isfinite(self.m2) and math.isfinite(self.m4)):
            return math.nan
        n = float(self.count)
        return n * (self.m4 / self.m2) / self.m2 - 3.0


def _down(value: float, scale: float, power: int) -> float:
    """``value / scale**power`` by repeated division (infinite stays infinite)."""
    for _ in range(power):
        value /= scale
    return value
