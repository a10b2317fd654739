"""Exact, mergeable central moments (count, mean, M2, M3, M4, min, max).

Summaries from many batches, processes and collector replicas must combine into exactly
the summary of the concatenated data, so the moments are kept as sums of powered
deviations and merged with the pairwise update of Pébay (2008), which is exact in real
arithmetic and numerically stable in floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Moments:
    """Moments of the finite values of one feature.

    ``m2``, ``m3`` and ``m4`` are sums of the 2nd, 3rd and 4th powers of deviations from
    ``mean``; ``count`` counts only the finite values they describe.
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
        n = int(values.size)
        if n == 0:
            return cls()
        mean = float(values.mean())
        dev = values - mean
        dev2 = dev * dev
        return cls(
            count=n,
            mean=mean,
            m2=float(dev2.sum()),
            m3=float((dev2 * dev).sum()),
            m4=float((dev2 * dev2).sum()),
            min=float(values.min()),
            max=float(values.max()),
        )

    def merge(self, other: Moments) -> Moments:
        """The moments of both samples together."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        na, nb = float(self.count), float(other.count)
        n = na + nb
        delta = other.mean - self.mean
        d_n = delta / n
        mean = self.mean + d_n * nb
        m2 = self.m2 + other.m2 + delta * d_n * na * nb
        m3 = (
            self.m3
            + other.m3
            + delta * d_n * d_n * na * nb * (na - nb)
            + 3.0 * d_n * (na * other.m2 - nb * self.m2)
        )
        m4 = (
            self.m4
            + other.m4
            + delta * d_n**3 * na * nb * (na * na - na * nb + nb * nb)
            + 6.0 * d_n * d_n * (na * na * other.m2 + nb * nb * self.m2)
            + 4.0 * d_n * (na * other.m3 - nb * self.m3)
        )
        return Moments(
            count=self.count + other.count,
            mean=mean,
            m2=m2,
            m3=m3,
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
        """Population skewness g1 (0 when the variance is 0)."""
        if self.count < 2 or self.m2 <= 0.0:
            return 0.0
        n = float(self.count)
        return float(math.sqrt(n) * self.m3 / self.m2**1.5)

    @property
    def kurtosis(self) -> float:
        """Excess kurtosis g2 (0 when the variance is 0)."""
        if self.count < 2 or self.m2 <= 0.0:
            return 0.0
        n = float(self.count)
        return n * self.m4 / (self.m2 * self.m2) - 3.0
