"""The raw outcome of comparing one feature's baseline and current summaries."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Comparison:
    """Metric values, p-values and the facts insights are written from.

    ``values`` maps metric names (see ``thresholds.METRIC_NAMES``) to values; ``p_values``
    maps test names ("ks", "chi2", "welch") to uncorrected p-values; ``test`` names the
    test that decides on small samples. ``baseline_rows`` and ``current_rows`` count the
    non-missing values compared.
    """

    kind: str
    values: dict[str, float]
    p_values: dict[str, float]
    test: str
    baseline_rows: int
    current_rows: int
    facts: dict[str, float] = field(default_factory=dict)
    """Means and standard deviations for the insight text."""
    shifts: tuple[Shift, ...] = ()
    """The most-shifted quantiles (numerical) or category shares (categorical), largest
    first, for the insight text."""


@dataclass(frozen=True)
class Shift:
    """One quantile or category share on both sides, e.g. ("p90", 7.1, 8.3) or ("a", 0.4, 0.3)."""

    label: str
    baseline: float
    current: float
