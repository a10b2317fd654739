"""Peeking is safe: simulated A/A experiments looked at after every 100 outcomes.

A fast version of ``bench/experiment_sequential.py``: 200 A/A runs of 5,000 outcomes on
a rate (and 100 on a mean), each looked at after every 100 outcomes through the
collector's own ``looks.look`` on ``ExperimentRecord``s. The always-valid test decides
in at most ``alpha`` of the runs, while the fixed-horizon test taken at the same looks
decides in several times as many; a real difference is found, in the right direction.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlspan.collector.experiments import fixed_horizon as fh
from mlspan.collector.experiments.config import ArmConfig, ExperimentConfig
from mlspan.collector.experiments.looks import look
from mlspan.collector.experiments.state import ArmTotals, ExperimentRecord

ALPHA = 0.05
EVERY = 100


def run(
    rng: np.random.Generator, metric: str, outcomes: int, challenger_shift: float
) -> tuple[int | None, bool, float]:
    """One experiment looked at every ``EVERY`` outcomes: where the always-valid test
    decided (None: never), whether the fixed-horizon test decided at some look, and the
    sign of the final difference."""
    config = ExperimentConfig(
        "aa",
        (ArmConfig("a"), ArmConfig("b")),
        metric=metric,
        minimum_detectable_effect=0.02,
        alpha=ALPHA,
    )
    record = ExperimentRecord(config, "config", 0.0)
    arm = rng.integers(0, 2, outcomes)
    if metric == "accuracy":
        values = (rng.random(outcomes) < 0.8 + challenger_shift * arm).astype(np.float64)
    else:
        values = rng.gamma(2.0, 0.5, outcomes) + challenger_shift * arm
    fixed_decided = False
    for end in range(EVERY, outcomes + 1, EVERY):
        totals = {}
        for index, name in enumerate(("a", "b")):
            mine = values[:end][arm[:end] == index]
            totals[name] = ArmTotals(0, len(mine), float(mine.sum()), float((mine**2).sum()))
        record = look(replace(record, arms=totals), float(end))
        a, b = totals["a"], totals["b"]
        if min(a.outcomes, b.outcomes) >= config.min_outcomes_per_arm:
            if metric == "accuracy":
                _, p = fh.two_proportion_z(b.total, b.outcomes, a.total, a.outcomes)
            else:
                mb, vb = fh.mean_and_variance(b.outcomes, b.total, b.squares)
                ma, va = fh.mean_and_variance(a.outcomes, a.total, a.squares)
                _, _, p = fh.welch_t(mb, vb, b.outcomes, ma, va, a.outcomes)
            fixed_decided = fixed_decided or float(p) <= ALPHA
    final = totals["b"].total / totals["b"].outcomes - totals["a"].total / totals["a"].outcomes
    return record.sequential["b"].decided_at, fixed_decided, float(np.sign(final))


def test_aa_rate_false_positives_stay_below_alpha_when_peeked_at() -> None:
    rng = np.random.default_rng(2026)
    results = [run(rng, "accuracy", 5000, 0.0) for _ in range(200)]
    sequential = np.mean([decided is not None for decided, _, _ in results])
    fixed = np.mean([peeked for _, peeked, _ in results])
    assert sequential <= ALPHA
    assert fixed >= 3 * ALPHA  # peeking at a fixed-horizon test: many false positives


def test_aa_mean_false_positives_stay_below_alpha_when_peeked_at() -> None:
    rng = np.random.default_rng(7)
    results = [run(rng, "mae", 5000, 0.0) for _ in range(100)]
    assert np.mean([decided is not None for decided, _, _ in results]) <= ALPHA
    assert np.mean([peeked for _, peeked, _ in results]) >= 2 * ALPHA


def test_a_real_difference_is_decided_in_its_direction() -> None:
    rng = np.random.default_rng(11)
    results = [run(rng, "accuracy", 5000, 0.05) for _ in range(20)]
    decided = [(at, sign) for at, _, sign in results if at is not None]
    assert len(decided) >= 18
    assert all(sign > 0 for _, sign in decided)
    assert np.mean([at for at, _ in decided]) < 5000
