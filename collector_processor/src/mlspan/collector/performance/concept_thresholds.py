"""The bar a split of the concept-drift detector must pass, by the labels after it.

The detector (``concept``) keeps its windows in exponential-histogram buckets and, at
each look, tests every bucket boundary: the labels after the boundary against those
before it. A split with ``n`` labels after it alarms when its standardised difference
(the signed root of the binomial likelihood ratio, or Welch's z) passes
``ThresholdProfile.at(n)``::

    c(n) = base + small / sqrt(n) + growth * ln(max(n / pivot, 1))

The bar is highest on short recent parts, where few errors make the statistic's tail
heavier than the normal one and where successive looks share little data (each look is
close to a fresh test), lowest on a few hundred to a few thousand labels (where small
changes are found), and rises again past ``pivot`` labels, where a low bar would be
crossed by slow random wandering of a long recent part. ADWIN's cut has the same shape
(a Bernstein term in 1/n on top of a constant); the defaults were set by simulation
against river's ADWIN on the streams of ``bench/concept_drift.py``.

False alarms: on a stationary stream one look raises an alarm with probability at most
``look_bound`` of its splits (Bonferroni, each split two-sided at the normal tail of its
bar). That bound is loose, since neighbouring splits and successive looks share most of
their data; the realised rate per million labelled predictions is measured by the
benchmark and checked by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


def tail_probability(bar: float) -> float:
    """P(|Z| > bar) for a standard normal Z: what one split at this bar costs a look."""
    return math.erfc(bar / math.sqrt(2.0))


@dataclass(frozen=True)
class ThresholdProfile:
    """The standardised difference a split with ``n`` recent labels must pass (see the
    module docstring). ``shifted(d)`` raises (or lowers) every bar by ``d``: the one knob
    that trades false alarms for delay."""

    base: float = 4.5
    small: float = 7.75
    growth: float = 0.3
    pivot: float = 1500.0

    def __post_init__(self) -> None:
        values = (self.base, self.small, self.growth, self.pivot)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("threshold profile values must be finite")
        if self.base <= 0 or self.small < 0 or self.growth < 0 or self.pivot <= 0:
            raise ValueError("threshold profile: base and pivot > 0, small and growth >= 0")

    def at(self, labels: float) -> float:
        """The bar for a split with ``labels`` labelled predictions in its recent part."""
        n = max(float(labels), 1.0)
        return (
            self.base + self.small / math.sqrt(n) + self.growth * math.log(max(n / self.pivot, 1.0))
        )

    def shifted(self, delta: float) -> ThresholdProfile:
        """The same profile with every bar moved by ``delta``."""
        return ThresholdProfile(self.base + delta, self.small, self.growth, self.pivot)

    def look_bound(self, recent_labels: Iterable[float]) -> float:
        """Bonferroni bound on one look's false-alarm probability when the tested splits
        have these recent label counts (normal approximation, two-sided)."""
        return min(1.0, sum(tail_probability(self.at(n)) for n in recent_labels))

    def to_dict(self) -> dict[str, float]:
        """The profile as JSON-ready values."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Any) -> ThresholdProfile:
        """The inverse of ``to_dict``; raises ``ValueError`` on other input."""
        try:
            return cls(
                float(data["base"]),
                float(data["small"]),
                float(data["growth"]),
                float(data["pivot"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a threshold profile: {error}") from error
