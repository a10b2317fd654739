"""One look at an experiment: every challenger's sequential record updated, Holm applied.

The collector looks after every batch that brought an experiment new outcomes, which is
at least as often as anyone can look at a dashboard; the always-valid inference of
``sequential`` makes that safe. A look at a comparison needs ``min_outcomes_per_arm``
outcomes in both arms and a positive variance; until then nothing is decided. With
``m`` challengers, each confidence sequence is at level ``alpha / m`` (so all hold
together) and the always-valid p-values are adjusted by Holm's step-down procedure: a
comparison is decided once its adjusted p-value is at most ``alpha``, and stays so
(the p-values only fall from look to look).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from mlspan.collector.experiments.fixed_horizon import holm, mean_and_variance
from mlspan.collector.experiments.metrics import METRICS, MetricKind
from mlspan.collector.experiments.sequential import SequentialState, mixture_variance
from mlspan.collector.experiments.state import ArmTotals, ExperimentRecord


@dataclass(frozen=True)
class Estimate:
    """One arm's metric: its mean per outcome and the variance of one outcome."""

    count: int
    mean: float
    variance: float


def estimate(totals: ArmTotals, kind: MetricKind) -> Estimate | None:
    """The arm's estimate, None before two outcomes."""
    n = totals.outcomes
    if n < 2:
        return None
    if kind is MetricKind.RATE:
        p = min(1.0, max(0.0, totals.total / n))
        return Estimate(n, p, p * (1 - p))
    mean, variance = mean_and_variance(n, totals.total, totals.squares)
    return Estimate(n, mean, variance)


def difference(challenger: Estimate, control: Estimate, kind: MetricKind) -> tuple[float, float]:
    """Challenger minus control, and the variance of that estimate (rates: the unpooled
    Wald variance ``p(1-p)/n``; means: ``s**2/n`` with unbiased ``s**2``)."""
    variance = challenger.variance / challenger.count + control.variance / control.count
    return challenger.mean - control.mean, variance


def comparison_alpha(record: ExperimentRecord) -> float:
    """Level of each comparison's confidence sequence: ``alpha / m``."""
    return record.config.alpha / max(1, len(record.config.arms) - 1)


def look(record: ExperimentRecord, now: float) -> ExperimentRecord:
    """``record`` after one look at its current totals."""
    config = record.config
    kind = METRICS[config.metric].kind
    level = comparison_alpha(record)
    tau2 = mixture_variance(config.minimum_detectable_effect, level)
    control = estimate(record.totals(config.control_arm), kind)
    states = dict(record.sequential)
    for arm in config.arms:
        if arm.name == config.control_arm:
            continue
        state = states.get(arm.name, SequentialState())
        challenger = estimate(record.totals(arm.name), kind)
        if (
            control is None
            or challenger is None
            or min(control.count, challenger.count) < config.min_outcomes_per_arm
        ):
            states[arm.name] = state
            continue
        diff, variance = difference(challenger, control, kind)
        states[arm.name] = state.look(diff, variance, tau2, level)
    names = list(states)
    adjusted = holm([states[name].p_value for name in names])
    outcomes = record.outcomes
    for name, p in zip(names, adjusted, strict=True):
        if p <= config.alpha and math.isfinite(p):
            states[name] = states[name].decided(outcomes, now)
    return replace(record, sequential=states)


def adjusted_p_values(record: ExperimentRecord) -> dict[str, float]:
    """Holm-adjusted always-valid p-value of every challenger."""
    challengers = [arm.name for arm in record.config.arms if arm.name != record.config.control_arm]
    raw = [record.sequential.get(name, SequentialState()).p_value for name in challengers]
    return dict(zip(challengers, holm(raw), strict=True))
