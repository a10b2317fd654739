"""The one-line verdict of a comparison, in the metric's own units.

``v4 better than v3 on accuracy: +1.8 pts [0.6, 3.0], decided after 12,400 outcomes``;
``v4 vs v3 on accuracy: not yet decided: +0.4 pts [-1.2, 2.0] after 3,100 outcomes
(about 9,000 more expected to detect 1 pt)``. Rates are shown in percentage points,
means with four significant digits; the interval is the always-valid confidence
sequence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlspan.collector.experiments.metrics import MetricSpec

if TYPE_CHECKING:
    from mlspan.collector.experiments.results import ComparisonResult
    from mlspan.collector.experiments.state import ExperimentRecord


def amount(value: float, spec: MetricSpec, signed: bool = True) -> str:
    """A difference or bound in the metric's units (``+1.8 pts``, ``-0.0123``)."""
    if spec.unit == "pts":
        return f"{value * 100:+.1f} pts" if signed else f"{value * 100:.1f}"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def interval(low: float | None, high: float | None, spec: MetricSpec) -> str:
    """``[low, high]`` in the metric's units, ``-inf``/``inf`` for open ends."""
    left = amount(low, spec, signed=False) if low is not None else "-inf"
    right = amount(high, spec, signed=False) if high is not None else "inf"
    return f"[{left}, {right}]"


def count(value: float) -> str:
    """A count with thousands separators."""
    return f"{round(value):,}"


def comparison_verdict(
    result: ComparisonResult,
    record: ExperimentRecord,
    spec: MetricSpec,
    shares: dict[str, float],
) -> str:
    """The verdict line of one challenger."""
    arm, control, metric = result.arm, result.control, spec.name
    outcomes = record.outcomes
    if result.difference is None:
        return f"{arm} vs {control} on {metric}: not yet decided: no outcomes in both arms yet"
    shown = f"{amount(result.difference, spec)} {interval(result.low, result.high, spec)}"
    if result.status in ("better", "worse"):
        decided = count(result.decided_at or outcomes)
        return (
            f"{arm} {result.status} than {control} on {metric}: {shown},"
            f" decided after {decided} outcomes"
        )
    effect = record.config.minimum_detectable_effect
    mde = f"{effect * 100:g}" if spec.unit == "pts" else f"{effect:.4g}"
    unit = (" pt" if effect == 0.01 else " pts") if spec.unit == "pts" else ""
    if result.status == "equivalent":
        return (
            f"{arm} no different from {control} on {metric} by {mde}{unit} or more: {shown}"
            f" after {count(outcomes)} outcomes"
        )
    least = min(record.totals(arm).outcomes, record.totals(control).outcomes)
    needed = record.config.min_outcomes_per_arm
    if least < needed:
        return (
            f"{arm} vs {control} on {metric}: not yet decided: {amount(result.difference, spec)}"
            f" after {count(outcomes)} outcomes ({needed} per arm needed before a decision)"
        )
    text = (
        f"{arm} vs {control} on {metric}: not yet decided: {shown} after {count(outcomes)} outcomes"
    )
    horizon = result.sequential_sample_size
    if horizon is not None and math.isfinite(horizon) and shares.get(arm):
        more = horizon / shares[arm] - outcomes
        if more > 0:
            text += f" (about {count(_round(more))} more expected to detect {mde}{unit})"
    return text


def _round(value: float) -> float:
    """Two significant digits: an expectation, not a promise."""
    if value < 100:
        return value
    digits = math.floor(math.log10(value)) - 1
    return round(value, -digits)
