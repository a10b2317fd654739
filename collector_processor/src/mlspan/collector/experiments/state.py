"""What the collector holds per experiment: per-arm totals and the sequential record.

``ArmTotals`` adds up, per arm, the predictions routed to it (for the sample-ratio
check) and its outcomes with the sum and sum of squares of the metric's per-outcome
value: merging is addition, so totals from any number of spans, windows and collector
restarts combine exactly. ``ExperimentRecord`` holds an experiment's declaration, where
it came from (``config`` or ``api``), when it was declared, the model version each arm
resolved to, the totals and one ``SequentialState`` per challenger. Its JSON form is
what ``experiments.sqlite`` keeps; reading it back checks every field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from mlspan.collector.experiments.config import ExperimentConfig
from mlspan.collector.experiments.sequential import SequentialState


@dataclass(frozen=True)
class ArmTotals:
    """One arm's running totals."""

    assigned: int = 0
    """Predictions (or routed requests) attributed to the arm."""
    outcomes: int = 0
    """Labelled outcomes of the arm."""
    total: float = 0.0
    """Sum of the metric's per-outcome values (successes, for a rate)."""
    squares: float = 0.0
    """Sum of their squares (equal to ``total`` for a rate)."""

    def add_outcomes(self, count: int, total: float, squares: float) -> ArmTotals:
        """These totals plus one summary's."""
        return replace(
            self,
            outcomes=self.outcomes + count,
            total=self.total + total,
            squares=self.squares + squares,
        )

    def add_assigned(self, count: int) -> ArmTotals:
        """These totals plus ``count`` routed predictions."""
        return replace(self, assigned=self.assigned + count)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "assigned": self.assigned,
            "outcomes": self.outcomes,
            "total": self.total,
            "squares": self.squares,
        }

    @classmethod
    def from_json(cls, data: Any) -> ArmTotals:
        """Read ``to_json`` output; raises ``ValueError`` for anything else."""
        if not isinstance(data, dict):
            raise ValueError("arm totals are a JSON object")
        try:
            totals = cls(
                int(data["assigned"]),
                int(data["outcomes"]),
                float(data["total"]),
                float(data["squares"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not arm totals: {exc}") from None
        if totals.assigned < 0 or totals.outcomes < 0:
            raise ValueError("not arm totals: negative counts")
        if not (math.isfinite(totals.total) and math.isfinite(totals.squares)):
            raise ValueError("not arm totals: sums not finite")
        return totals


@dataclass(frozen=True)
class ExperimentRecord:
    """One experiment as the collector holds it."""

    config: ExperimentConfig
    origin: str
    """``config`` (the collector's YAML) or ``api`` (declared through the query API)."""
    created: float
    """Unix seconds when the collector first held the experiment."""
    resolved: dict[str, str] = field(default_factory=dict)
    """Arm name -> the model version digest its ``version`` resolved to (version arms)."""
    arms: dict[str, ArmTotals] = field(default_factory=dict)
    sequential: dict[str, SequentialState] = field(default_factory=dict)
    """Challenger arm name -> its comparison with the control across looks."""
    refused: int = 0
    """Outcome summaries of a task the metric does not fit (e.g. a regressor's for
    accuracy), left out."""

    def totals(self, arm: str) -> ArmTotals:
        """An arm's totals (zero before any data)."""
        return self.arms.get(arm, ArmTotals())

    @property
    def outcomes(self) -> int:
        """Outcomes over every arm."""
        return sum(totals.outcomes for totals in self.arms.values())

    def state_json(self) -> dict[str, Any]:
        """The mutable part as JSON (the declaration is stored beside it)."""
        return {
            "resolved": dict(self.resolved),
            "arms": {name: totals.to_json() for name, totals in self.arms.items()},
            "sequential": {name: s.to_json() for name, s in self.sequential.items()},
            "refused": self.refused,
        }

    def with_state(self, data: Any) -> ExperimentRecord:
        """This record with the stored state ``data``; raises ``ValueError`` when damaged
        or when it names arms the declaration does not have."""
        if not isinstance(data, dict):
            raise ValueError("an experiment state is a JSON object")
        names = {arm.name for arm in self.config.arms}
        resolved = data.get("resolved", {})
        arms = data.get("arms", {})
        sequential = data.get("sequential", {})
        if not all(isinstance(part, dict) for part in (resolved, arms, sequential)):
            raise ValueError("experiment state: resolved, arms and sequential are objects")
        if not set(resolved) | set(arms) | set(sequential) <= names:
            raise ValueError("experiment state: names arms the declaration does not have")
        if not all(isinstance(v, str) for v in resolved.values()):
            raise ValueError("experiment state: resolved versions are strings")
        refused = data.get("refused", 0)
        if isinstance(refused, bool) or not isinstance(refused, int) or refused < 0:
            raise ValueError("experiment state: refused is a count")
        return replace(
            self,
            resolved=dict(resolved),
            arms={name: ArmTotals.from_json(v) for name, v in arms.items()},
            sequential={name: SequentialState.from_json(v) for name, v in sequential.items()},
            refused=refused,
        )
