"""An experiment's results: per-arm metrics, comparisons with the control, the split check,
sample sizes and the verdict, computed from its record at query time.

Per arm: the metric with its interval at ``1 - alpha`` (Wilson for rates, Student t for
means). Per challenger: the difference from the control with the always-valid
confidence sequence (running intersection, level ``alpha / m``), the always-valid
p-value raw and Holm-adjusted, the status (``better``, ``worse``, ``equivalent`` when
the sequence lies inside plus or minus the minimum detectable effect, else
``undecided``), and beside them the fixed-horizon test (two-proportion z or Welch),
valid only once, at the planned sample size. The split is checked against the
designed shares (chi-square, sample ratio mismatch below p = 0.001) on routed
predictions, or on outcomes when no prediction spans were attributed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.experiments import fixed_horizon as fh
from mlspan.collector.experiments.looks import (
    Estimate,
    adjusted_p_values,
    comparison_alpha,
    estimate,
)
from mlspan.collector.experiments.metrics import METRICS, MetricKind, MetricSpec
from mlspan.collector.experiments.sample_size import (
    mean_sample_size,
    proportion_sample_size,
    sequential_sample_size,
)
from mlspan.collector.experiments.sequential import SequentialState
from mlspan.collector.experiments.state import ExperimentRecord
from mlspan.collector.experiments.verdict import comparison_verdict

SRM_ALPHA: Final = 0.001
"""p-value below which the split is reported as a sample ratio mismatch (the usual
threshold: a mismatch means the assignment or the logging is broken, and a strict
level keeps a dashboard looked at often from crying wolf)."""
SRM_MIN_EXPECTED: Final = 5.0
"""Least expected count per arm before the chi-square approximation is trusted."""


@dataclass(frozen=True)
class ArmResult:
    """One arm's totals and metric."""

    name: str
    version: str
    resolved: str | None
    assigned: int
    outcomes: int
    expected_share: float
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ComparisonResult:
    """One challenger against the control."""

    arm: str
    control: str
    status: str
    """``better``, ``worse``, ``equivalent`` or ``undecided``."""
    difference: float | None
    low: float | None
    high: float | None
    p_value: float
    p_adjusted: float
    decided_at: int | None
    decided_time: float | None
    fixed: fh.Comparison | None
    fixed_p_adjusted: float | None
    fixed_sample_size: float | None
    """Challenger outcomes a fixed-horizon test needs for the minimum detectable effect."""
    sequential_sample_size: float | None
    """Challenger outcomes at which the sequence would decide an effect of that size."""
    verdict: str


@dataclass(frozen=True)
class SrmResult:
    """The split against its design."""

    unit: str
    observed: tuple[int, ...]
    expected_shares: tuple[float, ...]
    statistic: float | None
    p_value: float | None
    mismatch: bool


@dataclass(frozen=True)
class ExperimentResult:
    """Everything the API, the CLI, Prometheus and the alerts show of an experiment."""

    record: ExperimentRecord
    spec: MetricSpec
    arms: tuple[ArmResult, ...]
    comparisons: tuple[ComparisonResult, ...]
    srm: SrmResult
    outcomes: int

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.record.config.name


def experiment_result(record: ExperimentRecord) -> ExperimentResult:
    """The results of ``record``'s current totals and sequential records."""
    config = record.config
    spec = METRICS[config.metric]
    shares = dict(zip((a.name for a in config.arms), config.shares(), strict=True))
    estimates = {arm.name: estimate(record.totals(arm.name), spec.kind) for arm in config.arms}
    arms = tuple(
        _arm_result(record, arm.name, arm.version, shares[arm.name], estimates[arm.name], spec)
        for arm in config.arms
    )
    adjusted = adjusted_p_values(record)
    fixed = {name: _fixed_test(record, name, spec) for name in adjusted}
    fixed_raw = [c.p_value if c is not None else 1.0 for c in fixed.values()]
    fixed_adjusted = dict(zip(fixed, fh.holm(fixed_raw), strict=True))
    comparisons = tuple(
        _comparison(
            record,
            name,
            spec,
            estimates,
            shares,
            adjusted[name],
            fixed[name],
            fixed_adjusted[name] if fixed[name] is not None else None,
        )
        for name in adjusted
    )
    return ExperimentResult(record, spec, arms, comparisons, _srm(record, shares), record.outcomes)


def _arm_result(
    record: ExperimentRecord,
    name: str,
    version: str,
    share: float,
    value: Estimate | None,
    spec: MetricSpec,
) -> ArmResult:
    totals = record.totals(name)
    low = high = None
    if value is not None:
        alpha = record.config.alpha
        if spec.kind is MetricKind.RATE:
            interval = fh.wilson_interval(round(totals.total), totals.outcomes, alpha)
        else:
            interval = fh.mean_interval(value.mean, value.variance, value.count, alpha)
        low, high = _finite(interval.low), _finite(interval.high)
    return ArmResult(
        name,
        version,
        record.resolved.get(name),
        totals.assigned,
        totals.outcomes,
        share,
        None if value is None else value.mean,
        low,
        high,
    )


def _fixed_test(record: ExperimentRecord, name: str, spec: MetricSpec) -> fh.Comparison | None:
    config = record.config
    mine, control = record.totals(name), record.totals(config.control_arm)
    if min(mine.outcomes, control.outcomes) < 2:
        return None
    if spec.kind is MetricKind.RATE:
        result = fh.two_proportion_test(
            round(mine.total), mine.outcomes, round(control.total), control.outcomes, config.alpha
        )
    else:
        m1, v1 = fh.mean_and_variance(mine.outcomes, mine.total, mine.squares)
        m0, v0 = fh.mean_and_variance(control.outcomes, control.total, control.squares)
        result = fh.welch_test(m1, v1, mine.outcomes, m0, v0, control.outcomes, config.alpha)
    return result if math.isfinite(result.p_value) else None


def _comparison(
    record: ExperimentRecord,
    name: str,
    spec: MetricSpec,
    estimates: dict[str, Estimate | None],
    shares: dict[str, float],
    p_adjusted: float,
    fixed: fh.Comparison | None,
    fixed_adjusted: float | None,
) -> ComparisonResult:
    config = record.config
    control_name = config.control_arm
    state = record.sequential.get(name, SequentialState())
    mine, control = estimates[name], estimates[control_name]
    diff = None if mine is None or control is None else mine.mean - control.mean
    low, high = _finite(state.low), _finite(state.high)
    mde = config.minimum_detectable_effect
    if state.decided_at is not None and diff is not None:
        better = (diff > 0) == spec.higher_is_better
        status = "better" if better else "worse"
    elif low is not None and high is not None and -mde < low and high < mde:
        status = "equivalent"
    else:
        status = "undecided"
    fixed_n, sequential_n = _sample_sizes(record, spec, mine, control, shares, name)
    result = ComparisonResult(
        name,
        control_name,
        status,
        diff,
        low,
        high,
        state.p_value,
        p_adjusted,
        state.decided_at,
        state.decided_time,
        fixed,
        fixed_adjusted,
        fixed_n,
        sequential_n,
        "",
    )
    verdict = comparison_verdict(result, record, spec, shares)
    return ComparisonResult(**{**result.__dict__, "verdict": verdict})


def _sample_sizes(
    record: ExperimentRecord,
    spec: MetricSpec,
    mine: Estimate | None,
    control: Estimate | None,
    shares: dict[str, float],
    name: str,
) -> tuple[float | None, float | None]:
    config = record.config
    level = comparison_alpha(record)
    mde = config.minimum_detectable_effect
    ratio = shares[config.control_arm] / shares[name]
    if spec.kind is MetricKind.RATE:
        base = control.mean if control is not None else 0.5
        step = mde if spec.higher_is_better else -mde
        if not 0 < base + step < 1:
            step = -step
        if not 0 < base + step < 1 or not 0 < base < 1:
            return None, None
        fixed = proportion_sample_size(step, base, level, config.power, ratio)
        variance = base * (1 - base)
        sequential = sequential_sample_size(mde, variance, variance, level, ratio)
    else:
        if control is None or not control.variance > 0:
            return None, None
        sd0 = math.sqrt(control.variance)
        sd1 = math.sqrt(mine.variance) if mine is not None and mine.variance > 0 else sd0
        fixed = mean_sample_size(mde, sd0, sd1, level, config.power, ratio)
        sequential = sequential_sample_size(mde, sd0**2, sd1**2, level, ratio)
    return _finite(fixed), _finite(sequential)


def _srm(record: ExperimentRecord, shares: dict[str, float]) -> SrmResult:
    names = [arm.name for arm in record.config.arms]
    assigned = tuple(record.totals(n).assigned for n in names)
    unit, observed = ("predictions", assigned) if sum(assigned) else ("outcomes", ())
    if not observed:
        observed = tuple(record.totals(n).outcomes for n in names)
    expected = tuple(shares[n] for n in names)
    total = sum(observed)
    if total == 0 or min(total * s for s in expected) < SRM_MIN_EXPECTED:
        return SrmResult(unit, observed, expected, None, None, False)
    statistic, p = fh.srm_test(observed, expected)
    return SrmResult(unit, observed, expected, statistic, p, p < SRM_ALPHA)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def result_json(result: ExperimentResult) -> dict[str, Any]:
    """The API form of one experiment's results."""
    record = result.record
    return {
        "name": result.name,
        "origin": record.origin,
        "created": record.created,
        "definition": record.config.to_json(),
        "metric": result.spec.name,
        "higher_is_better": result.spec.higher_is_better,
        "outcomes": result.outcomes,
        "refused_summaries": record.refused,
        "arms": [arm.__dict__ for arm in result.arms],
        "comparisons": [_comparison_json(c) for c in result.comparisons],
        "srm": {**result.srm.__dict__, "threshold": SRM_ALPHA},
        "verdict": [c.verdict for c in result.comparisons],
        "decided": all(c.status != "undecided" for c in result.comparisons),
    }


def _comparison_json(comparison: ComparisonResult) -> dict[str, Any]:
    out = dict(comparison.__dict__)
    fixed = comparison.fixed
    out["fixed"] = (
        None
        if fixed is None
        else {
            "difference": fixed.difference,
            "low": _finite(fixed.low),
            "high": _finite(fixed.high),
            "statistic": _finite(fixed.statistic),
            "p_value": fixed.p_value,
            "p_adjusted": comparison.fixed_p_adjusted,
            "note": "fixed-horizon test: valid only once, at the planned sample size",
        }
    )
    del out["fixed_p_adjusted"]
    return out
