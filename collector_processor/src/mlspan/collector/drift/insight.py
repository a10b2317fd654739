"""One-line insights on a feature's drift decision, written for the person who must act.

An insight names what changed (the mean in sigma, in percent only where the baseline mean
is large relative to its spread; or the category shares that moved most), the test that
judged it with its corrected p-value, the effect sizes against their materiality floors,
the most-shifted quantiles, and the verdict with its reason, e.g.::

    age: mean +34 % (accepted 10 %, +1.36 sigma), W/sigma 1.36 >= 0.10, KS D 0.50 >= 0.05,
    KS p=0 (bh, n=50000); most shifted p50 40.0 -> 53.6, p90 52.8 -> 66.4 -> drift
    plan: share of `basic` 40 % -> 30 %, `pro` 20 % -> 30 %, L-inf 0.10 >= 0.05,
    chi2 p=3.4e-11 (bh, n=2000) -> drift
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import Final

from mlspan.collector.drift.comparison import Comparison, Shift
from mlspan.collector.drift.results import MetricResult

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

TEST_LABELS: Final = MappingProxyType({"ks": "KS", "chi2": "chi2"})
"""How each test is named in insights."""


def feature_insight(
    name: str,
    comparison: Comparison,
    correction: str,
    metrics: Sequence[MetricResult],
    verdict: str,
    adjusted_p: float | None,
    accepted_mean: float | None = None,
) -> str:
    """The insight of one judged feature; ``correction`` is the one applied to its p-value,
    ``verdict`` e.g. "drift" or "no drift (...)"."""
    rows = min(comparison.baseline_rows, comparison.current_rows)
    parts: list[str] = []
    if comparison.kind == "numerical" and "baseline_mean" in comparison.facts:
        parts.append(f"mean {mean_change_text(comparison.facts, accepted_mean)}")
    elif comparison.kind == "categorical" and comparison.shifts:
        parts.append("share of " + ", ".join(_share_shift(s) for s in comparison.shifts))
    floors = [m for m in metrics if m.threshold is not None and m.name in LABELS]
    reached = [m for m in floors if m.drifted]
    closest = sorted(floors, key=_closeness, reverse=True)[:1]
    parts.extend(_metric_text(m) for m in (reached or closest))
    if adjusted_p is not None:
        test = TEST_LABELS.get(comparison.test, comparison.test)
        parts.append(f"{test} p={adjusted_p:.2g} ({correction}, n={rows})")
    text = f"{name}: {', '.join(parts)}"
    if comparison.kind == "numerical" and comparison.shifts:
        text += "; most shifted " + ", ".join(_quantile_shift(s) for s in comparison.shifts)
    return f"{text} -> {verdict}"


def mean_change_text(facts: dict[str, float], accepted: float | None = None) -> str:
    """E.g. "+34 % (accepted 10 %, +0.41 sigma)", or "+0.25 sigma" alone when the baseline
    mean is smaller than its standard deviation (a mean moving from 0.0007 to 0.25 is a
    quarter of a sigma, not "+35,078 %") or the percentage rounds to zero."""
    before, after = facts["baseline_mean"], facts["current_mean"]
    spread = facts["baseline_std"] or facts["current_std"]
    sigma = f"{(after - before) / (spread or 1.0):+.2f} sigma"
    percent = (after - before) / abs(before) * 100 if before else math.inf
    if abs(before) < spread or abs(percent) < 0.05:
        return sigma  # no "+35,078 %" around zero, no "+2.4e-08 %" around 1e9
    note = f"accepted {accepted:g} %, {sigma}" if accepted is not None else sigma
    return f"{percent_text(percent)} ({note})"


def percent_text(percent: float) -> str:
    """A signed percentage for people: "+34 %", "+2.5 %", "+11,239 %"."""
    if abs(percent) >= 100:
        return f"{percent:+,.0f} %"
    return f"{percent:+.2g} %" if abs(percent) < 10 else f"{percent:+.0f} %"


def share_text(share: float) -> str:
    """A share for people: "40 %", "8.2 %", "0.35 %"."""
    percent = share * 100
    if percent == 0 or percent >= 10:
        return f"{percent:.0f} %"
    return f"{percent:.2g} %"


def value_pair(before: float, after: float) -> str:
    """Two values with enough digits to tell them apart: "1000000000.0 -> 1000000000.3"."""
    size = max(abs(before), abs(after), 1e-300)
    gap = abs(after - before)
    digits = 3 if gap == 0 else max(3, math.ceil(math.log10(size / gap)) + 2)
    return f"{before:.{min(digits, 17)}g} -> {after:.{min(digits, 17)}g}"


def _share_shift(shift: Shift) -> str:
    unseen = " (unseen)" if shift.baseline == 0 else ""
    return f"`{shift.label}` {share_text(shift.baseline)} -> {share_text(shift.current)}{unseen}"


def _quantile_shift(shift: Shift) -> str:
    return f"{shift.label} {value_pair(shift.baseline, shift.current)}"


def _closeness(metric: MetricResult) -> float:
    threshold = metric.threshold or 0.0
    return abs(metric.value) / threshold if threshold > 0 else math.inf


def _metric_text(metric: MetricResult) -> str:
    label = LABELS.get(metric.name, metric.name)
    if metric.threshold is None:
        return f"{label} {metric.value:.2f}"
    sign = ">=" if metric.drifted else "<"
    return f"{label} {metric.value:.2f} {sign} {metric.threshold:.2f}"
