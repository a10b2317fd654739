"""Simulated experiments: is the always-valid test safe to peek at, and what does it cost?

A/A tests (no difference between arms) are looked at after every ``--every`` outcomes
(default 100) up to ``--outcomes`` (default 20,000), ``--reps`` times (default 1,000).
A false positive is a run decided at any look. Beside the experiments processor's
always-valid test (normal-mixture confidence sequence, ``mlspan.collector.experiments.
sequential``) the same looks are taken with the fixed-horizon test (two-proportion z or
Welch), and the fixed-horizon test is also taken once at the end, as it is meant to be.
Every look requires ``min_outcomes_per_arm`` (100) in each arm, as the collector does.

Scenarios:

* A/A on a rate (accuracy 0.80) and on a mean (absolute errors, gamma-distributed);
* A/A/A (two challengers equal to the control) with Holm's correction: family-wise rate;
* A/B with known effects on a rate and on a mean: power (decided in the right direction
  by the last outcome), wrong-direction decisions, mean and median outcomes at the
  decision, against the fixed-horizon test's power at the end.

The decisions are computed for all runs at once with the library's own functions
(``log_likelihood_ratio``, ``mixture_variance``, ``holm`` logic, ``two_proportion_z``,
``welch_t``); ``--check`` additionally replays the first runs of the rate A/A and A/B
scenarios through the collector's ``looks.look`` on ``ExperimentRecord``s and fails if
any decision or stopping point differs.

Run: ``.venv/bin/python bench/experiment_sequential.py --check`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspan.collector.experiments import fixed_horizon as fh
from mlspan.collector.experiments import sequential as sq
from mlspan.collector.experiments.config import ArmConfig, ExperimentConfig
from mlspan.collector.experiments.looks import look
from mlspan.collector.experiments.sample_size import (
    mean_sample_size,
    proportion_sample_size,
    sequential_sample_size,
)
from mlspan.collector.experiments.state import ArmTotals, ExperimentRecord

Array = npt.NDArray[np.float64]
ALPHA = 0.05
MIN_PER_ARM = 100


@dataclass(frozen=True)
class Looks:
    """Cumulative per-arm totals at every look: arrays of shape (reps, looks, arms)."""

    count: Array
    total: Array
    squares: Array


def rate_looks(
    rng: np.random.Generator, reps: int, outcomes: int, every: int, rates: list[float]
) -> Looks:
    """Bernoulli outcomes split evenly across arms at random, summed at every look."""
    arms = len(rates)
    steps = outcomes // every
    split = rng.multinomial(every, [1 / arms] * arms, size=(reps, steps)).astype(np.float64)
    hits = rng.binomial(split.astype(np.int64), np.array(rates)).astype(np.float64)
    count, total = split.cumsum(axis=1), hits.cumsum(axis=1)
    return Looks(count, total, total)


def mean_looks(
    rng: np.random.Generator,
    reps: int,
    outcomes: int,
    every: int,
    draw: Callable[[np.random.Generator, int, int], Array],
    shifts: list[float],
) -> Looks:
    """Per-outcome values (``draw`` plus the arm's shift), split at random, with their
    sums and sums of squares at every look (built in chunks of runs)."""
    arms = len(shifts)
    steps = outcomes // every
    parts: list[tuple[Array, Array, Array]] = []
    for start in range(0, reps, 50):
        chunk = min(50, reps - start)
        arm = rng.integers(0, arms, size=(chunk, outcomes))
        values = draw(rng, chunk, outcomes) + np.array(shifts)[arm]
        counts, totals, squares = [], [], []
        for a in range(arms):
            mine = arm == a
            blocks = (chunk, steps, every)
            counts.append(mine.reshape(blocks).sum(axis=2).cumsum(axis=1))
            totals.append((values * mine).reshape(blocks).sum(axis=2).cumsum(axis=1))
            squares.append((values**2 * mine).reshape(blocks).sum(axis=2).cumsum(axis=1))
        stacked = [np.stack(x, axis=2).astype(np.float64) for x in (counts, totals, squares)]
        parts.append((stacked[0], stacked[1], stacked[2]))
    return Looks(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


def estimates(looks: Looks, rate: bool) -> tuple[Array, Array]:
    """Per-arm means and per-outcome variances (as ``looks.estimate`` computes them)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = looks.total / looks.count
        if rate:
            return mean, mean * (1 - mean)
        variance = np.maximum(0.0, (looks.squares - looks.total * mean) / (looks.count - 1))
        return mean, variance


def holm_adjusted(p: Array) -> Array:
    """Holm's adjusted p-values along the last axis (``fixed_horizon.holm``, vectorized)."""
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    ranked = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, ranked, axis=-1)
    return adjusted


@dataclass(frozen=True)
class Decisions:
    """Per run and challenger: the first look decided (-1: never) and its direction."""

    sequential: npt.NDArray[np.int64]
    sequential_sign: Array
    fixed_peeked: npt.NDArray[np.int64]
    fixed_final: npt.NDArray[np.bool_]
    fixed_final_sign: Array


def decide(looks: Looks, rate: bool, mde: float) -> Decisions:
    """The collector's decisions at every look (arm 0 is the control)."""
    mean, variance = estimates(looks, rate)
    n = looks.count
    m = n.shape[2] - 1
    level = ALPHA / m
    tau2 = sq.mixture_variance(mde, level)
    diff = mean[..., 1:] - mean[..., :1]
    var = variance[..., 1:] / n[..., 1:] + variance[..., :1] / n[..., :1]
    usable = (np.minimum(n[..., 1:], n[..., :1]) >= MIN_PER_ARM) & (var > 0) & np.isfinite(var)
    llr = np.where(usable, sq.log_likelihood_ratio(diff, var, tau2), 0.0)
    running = np.maximum.accumulate(np.maximum(llr, 0.0), axis=1)
    p_seq = np.exp(-running)
    decided = holm_adjusted(p_seq) <= ALPHA
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), -1)
    sign = np.sign(np.take_along_axis(diff, np.maximum(first, 0)[:, None, :], axis=1)[:, 0, :])
    if rate:
        _, p_fixed = fh.two_proportion_z(
            looks.total[..., 1:], n[..., 1:], looks.total[..., :1], n[..., :1]
        )
    else:
        _, _, p_fixed = fh.welch_t(
            mean[..., 1:],
            variance[..., 1:],
            n[..., 1:],
            mean[..., :1],
            variance[..., :1],
            n[..., :1],
        )
    p_fixed = np.where(usable, np.nan_to_num(p_fixed, nan=1.0), 1.0)
    fixed_hit = holm_adjusted(p_fixed) <= ALPHA
    fixed_first = np.where(fixed_hit.any(axis=1), fixed_hit.argmax(axis=1), -1)
    return Decisions(first, sign, fixed_first, fixed_hit[:, -1, :], np.sign(diff[:, -1, :]))


def false_positive_summary(d: Decisions) -> dict[str, float]:
    """Share of runs with any decision (any challenger), per method."""
    return {
        "sequential": float((d.sequential >= 0).any(axis=1).mean()),
        "fixed_peeked": float((d.fixed_peeked >= 0).any(axis=1).mean()),
        "fixed_final": float(d.fixed_final.any(axis=1).mean()),
    }


def power_summary(d: Decisions, direction: float, every: int) -> dict[str, float]:
    """Right-direction decisions, wrong ones and outcomes at the decision (challenger 1)."""
    first, sign = d.sequential[:, 0], d.sequential_sign[:, 0]
    right = (first >= 0) & (sign == direction)
    stops = (first[right] + 1) * every
    return {
        "power_sequential": float(right.mean()),
        "wrong_direction": float(((first >= 0) & (sign != direction)).mean()),
        "mean_outcomes_at_decision": float(stops.mean()) if stops.size else math.nan,
        "median_outcomes_at_decision": float(np.median(stops)) if stops.size else math.nan,
        "power_fixed_final": float(
            (d.fixed_final[:, 0] & (d.fixed_final_sign[:, 0] == direction)).mean()
        ),
    }


def replay(looks: Looks, rate: bool, mde: float, runs: int) -> list[int]:
    """The first look decided per run, through the collector's ``looks.look`` (2 arms)."""
    arms = (ArmConfig("a"), ArmConfig("b"))
    config = ExperimentConfig(
        "replay",
        arms,
        metric="accuracy" if rate else "mae",
        minimum_detectable_effect=mde,
        alpha=ALPHA,
        min_outcomes_per_arm=MIN_PER_ARM,
    )
    firsts: list[int] = []
    for run in range(runs):
        record = ExperimentRecord(config, "config", 0.0)
        first = -1
        for step in range(looks.count.shape[1]):
            totals = {
                name: ArmTotals(
                    0,
                    int(looks.count[run, step, i]),
                    float(looks.total[run, step, i]),
                    float(looks.squares[run, step, i]),
                )
                for i, name in enumerate(("a", "b"))
            }
            record = look(replace(record, arms=totals), float(step))
            if record.sequential["b"].decided_at is not None:
                first = step
                break
        firsts.append(first)
    return firsts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--outcomes", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--check", action="store_true", help="replay runs through looks.look")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    reps, outcomes, every = args.reps, args.outcomes, args.every
    started = time.perf_counter()
    report: dict[str, Any] = {"reps": reps, "outcomes": outcomes, "every": every, "alpha": ALPHA}
    mismatches = 0

    def gamma(r: np.random.Generator, rows: int, cols: int) -> Array:
        return r.gamma(2.0, 0.5, size=(rows, cols))  # mean 1.0, sd 0.71: absolute errors

    aa: dict[str, Any] = {}
    for mde in (0.01, 0.02, 0.05):
        looks = rate_looks(rng, reps, outcomes, every, [0.8, 0.8])
        decisions = decide(looks, True, mde)
        aa[f"rate p=0.80, mde {mde}"] = false_positive_summary(decisions)
        if args.check and mde == 0.02:
            firsts = replay(looks, True, mde, min(reps, 100))
            mismatches += int(np.sum(np.array(firsts) != decisions.sequential[: len(firsts), 0]))
    looks = rate_looks(rng, reps, outcomes, every, [0.5, 0.5])
    aa["rate p=0.50, mde 0.02"] = false_positive_summary(decide(looks, True, 0.02))
    for mde in (0.02, 0.05):
        looks = mean_looks(rng, reps, outcomes, every, gamma, [0.0, 0.0])
        aa[f"mean (gamma errors), mde {mde}"] = false_positive_summary(decide(looks, False, mde))
    looks = rate_looks(rng, reps, outcomes, every, [0.8, 0.8, 0.8])
    aa["A/A/A rate p=0.80, mde 0.02, Holm"] = false_positive_summary(decide(looks, True, 0.02))
    report["aa"] = aa

    ab: dict[str, Any] = {}
    for effect, mde in ((0.01, 0.01), (0.02, 0.02), (0.02, 0.01), (0.03, 0.02), (-0.02, 0.02)):
        looks = rate_looks(rng, reps, outcomes, every, [0.8, 0.8 + effect])
        decisions = decide(looks, True, mde)
        ab[f"rate 0.80 -> {0.8 + effect:.2f}, mde {mde}"] = power_summary(
            decisions, math.copysign(1.0, effect), every
        )
        if args.check and effect == 0.02 and mde == 0.02:
            firsts = replay(looks, True, mde, min(reps, 100))
            mismatches += int(np.sum(np.array(firsts) != decisions.sequential[: len(firsts), 0]))
    for shift, mde in ((-0.05, 0.05), (-0.03, 0.05)):
        looks = mean_looks(rng, reps, outcomes, every, gamma, [0.0, shift])
        ab[f"mean 1.00 -> {1 + shift:.2f} (gamma), mde {mde}"] = power_summary(
            decide(looks, False, mde), math.copysign(1.0, shift), every
        )
    report["ab"] = ab
    report["planned"] = {
        "rate 0.80, mde 0.01: fixed n per arm": proportion_sample_size(0.01, 0.8, ALPHA),
        "rate 0.80, mde 0.01: sequential n per arm": sequential_sample_size(
            0.01, 0.16, 0.16, ALPHA
        ),
        "rate 0.80, mde 0.02: fixed n per arm": proportion_sample_size(0.02, 0.8, ALPHA),
        "rate 0.80, mde 0.02: sequential n per arm": sequential_sample_size(
            0.02, 0.16, 0.16, ALPHA
        ),
        "mean sd 0.71, mde 0.05: fixed n per arm": mean_sample_size(
            0.05, math.sqrt(0.5), math.sqrt(0.5), ALPHA
        ),
        "mean sd 0.71, mde 0.05: sequential n per arm": sequential_sample_size(
            0.05, 0.5, 0.5, ALPHA
        ),
    }
    report["replay_mismatches"] = mismatches if args.check else None
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 1 if mismatches else 0


def print_report(report: dict[str, Any]) -> None:
    """Markdown tables of the report."""
    print(
        f"{report['reps']} runs x {report['outcomes']:,} outcomes, a look every"
        f" {report['every']} (alpha {report['alpha']})\n"
    )
    print("| A/A scenario | sequential | fixed-horizon, peeked | fixed-horizon, once at the end |")
    print("|---|---|---|---|")
    for name, row in report["aa"].items():
        print(
            f"| {name} | {row['sequential']:.3f} | {row['fixed_peeked']:.3f} |"
            f" {row['fixed_final']:.3f} |"
        )
    print()
    print(
        "| A/B scenario | power (sequential) | wrong direction | mean outcomes at decision |"
        " median | power (fixed, once at the end) |"
    )
    print("|---|---|---|---|---|---|")
    for name, row in report["ab"].items():
        print(
            f"| {name} | {row['power_sequential']:.3f} | {row['wrong_direction']:.3f} |"
            f" {row['mean_outcomes_at_decision']:,.0f} | {row['median_outcomes_at_decision']:,.0f}"
            f" | {row['power_fixed_final']:.3f} |"
        )
    print()
    for name, value in report["planned"].items():
        print(f"- {name}: {value:,.0f}")
    if report["replay_mismatches"] is not None:
        print(f"- decisions replayed through looks.look that differ: {report['replay_mismatches']}")
    print(f"- {report['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
