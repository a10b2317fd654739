"""Always-valid inference for a difference of two arms: a normal-mixture confidence
sequence (mixture SPRT) that may be looked at after every outcome.

The difference of the arms' means (rates are means of 0/1 outcomes) is estimated by
``d`` with variance ``V = var_a / n_a + var_b / n_b``. For a Gaussian estimate whose
variance shrinks as outcomes come in, mixing the likelihood ratio of ``N(delta, V)``
against ``N(0, V)`` over a prior ``delta ~ N(0, tau2)`` gives the mixture SPRT
(Robbins 1970; Johari, Koomen, Pekelis and Walsh 2017)::

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 * d**2 / (2 * V * (V + tau2)))

a nonnegative martingale under "no difference": by Ville's inequality it exceeds
``1 / alpha`` at *any* time with probability at most ``alpha``, so ``p = min(1, 1 /
max Lambda)`` is an always-valid p-value. Inverting it gives the confidence sequence
(Howard, Ramdas, McAuliffe and Sekhon 2021, the normal-mixture boundary)::

    d +- sqrt(V * (V + tau2) / tau2 * (2 log(1 / alpha) + log((V + tau2) / V)))

which covers the true difference at every look simultaneously with probability
``1 - alpha``. The running intersection of the intervals is kept, so an interval never
widens again and a decision, once made, stands. The variances are estimated from the
data (plugged in), which makes the guarantee asymptotic (Waudby-Smith, Arbour,
Sinha, Kennedy and Ramdas 2023); ``bench/experiment_sequential.py`` measures the
false-positive rate of 200 looks over 20,000 outcomes.

``tau2`` is the only tuning: ``mixture_variance`` picks it so the boundary is
narrowest when an effect of the experiment's minimum detectable size would be decided
(``tau2 = mde**2 * r / (1 + r)`` where ``r = 2 log(1/alpha) + log(1 + r)``). Any fixed
``tau2`` keeps the guarantee; a poor one only makes decisions slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

Number = Any
"""A float or a numpy array of floats (broadcast elementwise)."""


def optimal_ratio(alpha: float) -> float:
    """The ``tau2 / V`` at which the boundary's half-width is smallest: the fixed point
    of ``r = 2 log(1/alpha) + log(1 + r)``."""
    level = 2.0 * math.log(1.0 / alpha)
    ratio = level
    for _ in range(100):
        updated = level + math.log1p(ratio)
        if abs(updated - ratio) < 1e-12:
            return updated
        ratio = updated
    return ratio


def mixture_variance(mde: float, alpha: float) -> float:
    """The mixing variance ``tau2`` that makes the boundary narrowest at the moment a
    difference of ``mde`` would be decided at level ``alpha``."""
    ratio = optimal_ratio(alpha)
    return mde * mde * ratio / (1.0 + ratio)


def log_likelihood_ratio(difference: Number, variance: Number, tau2: float) -> Number:
    """``log Lambda`` of an observed difference with estimate variance ``variance``."""
    total = np.add(variance, tau2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * np.log(np.divide(variance, total)) + tau2 * np.square(difference) / (
            2.0 * np.multiply(variance, total)
        )


def half_width(variance: Number, tau2: float, alpha: float) -> Number:
    """Half-width of the confidence sequence at level ``alpha``."""
    total = np.add(variance, tau2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(
            np.multiply(variance, total)
            / tau2
            * (2.0 * math.log(1.0 / alpha) + np.log(np.divide(total, variance)))
        )


def always_valid_p(max_log_lr: float) -> float:
    """The always-valid p-value of the largest ``log Lambda`` seen so far."""
    return 1.0 if max_log_lr <= 0 else math.exp(-max_log_lr)


@dataclass(frozen=True)
class SequentialState:
    """One comparison's sequential record across looks (persisted between restarts).

    ``max_log_lr`` is the largest ``log Lambda`` (at "no difference") seen at any look;
    ``low``/``high`` the running intersection of the confidence sequence's intervals;
    ``decided_at`` the total outcomes of the experiment at the first look where the
    comparison was decided (None while undecided), ``decided_time`` when (Unix
    seconds), ``looks`` how many looks were taken.
    """

    max_log_lr: float = 0.0
    low: float = -math.inf
    high: float = math.inf
    looks: int = 0
    decided_at: int | None = None
    decided_time: float | None = None

    def look(
        self, difference: float, variance: float, tau2: float, alpha: float
    ) -> SequentialState:
        """The state after one more look at ``difference`` with estimate ``variance``
        (interval at level ``alpha``); an unusable look (variance not positive) counts
        but changes nothing else."""
        if not (variance > 0 and math.isfinite(variance) and math.isfinite(difference)):
            return replace(self, looks=self.looks + 1)
        log_lr = float(log_likelihood_ratio(difference, variance, tau2))
        half = float(half_width(variance, tau2, alpha))
        return replace(
            self,
            max_log_lr=max(self.max_log_lr, log_lr),
            low=max(self.low, difference - half),
            high=min(self.high, difference + half),
            looks=self.looks + 1,
        )

    @property
    def p_value(self) -> float:
        """The always-valid p-value."""
        return always_valid_p(self.max_log_lr)

    def decided(self, outcomes: int, at: float) -> SequentialState:
        """Mark the comparison decided at ``outcomes`` total outcomes (first time only)."""
        if self.decided_at is not None:
            return self
        return replace(self, decided_at=outcomes, decided_time=at)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (infinite bounds as None)."""
        return {
            "max_log_lr": self.max_log_lr,
            "low": self.low if math.isfinite(self.low) else None,
            "high": self.high if math.isfinite(self.high) else None,
            "looks": self.looks,
            "decided_at": self.decided_at,
            "decided_time": self.decided_time,
        }

    @classmethod
    def from_json(cls, data: Any) -> SequentialState:
        """Read ``to_json`` output back; raises ``ValueError`` for anything else."""
        if not isinstance(data, dict):
            raise ValueError("a sequential state is a JSON object")
        try:
            low, high = data.get("low"), data.get("high")
            decided_at = data.get("decided_at")
            decided_time = data.get("decided_time")
            state = cls(
                max_log_lr=float(data["max_log_lr"]),
                low=-math.inf if low is None else float(low),
                high=math.inf if high is None else float(high),
                looks=int(data["looks"]),
                decided_at=None if decided_at is None else int(decided_at),
                decided_time=None if decided_time is None else float(decided_time),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a sequential state: {exc}") from None
        if not math.isfinite(state.max_log_lr) or state.looks < 0:
            raise ValueError("not a sequential state: values out of range")
        return state
