"""The concept-drift detector: false alarms on stationary streams within the stated
per-look bound (and none at the default bars over 800,000 labels), detection delay on
steps in either direction and on small ones, regressors, late labels, a persistence round
trip and the migration of a version-1 state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlspan.collector.performance.concept import ConceptDriftDetector, WindowErrors, errors_of
from mlspan.collector.performance.concept_thresholds import ThresholdProfile
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance_build import classification_summary, regression_summary

HOUR = 3600.0
START = 1_796_637_600.0  # 2026-12-07T10:00 UTC


LOW_BARS = ThresholdProfile().shifted(-1.6)
"""Bars low enough for false alarms to be counted in a test (about one look in 150)."""


def run_classifier(
    detector: ConceptDriftDetector, rates: list[float], window: int, seed: int
) -> tuple[list[int], float]:
    """Window indices the detector alarms on, for windows of ``window`` labels, and the
    sum of the per-look false-alarm bounds of the looks taken."""
    rng = np.random.default_rng(seed)
    hits = []
    bound = 0.0
    for i, rate in enumerate(rates):
        errors = float(rng.binomial(window, rate))
        if detector.update(START + i * HOUR, window, errors).drift:
            hits.append(i)
        bound += detector.last_look_bound
    return hits, bound


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.3])
def test_false_alarms_per_look_within_the_bound_on_stationary_streams(rate: float) -> None:
    looks = alarms = 0
    bound = 0.0
    for seed in range(8):
        detector = ConceptDriftDetector(profile=LOW_BARS)
        hits, expected = run_classifier(detector, [rate] * 400, 50, seed)
        alarms += len(hits)
        bound += expected
        looks += detector.looks
    assert looks == 3200
    # the Bonferroni bound holds, and is not vacuous at these bars
    assert 0 < alarms <= bound
    assert bound / looks < 0.05


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_no_false_alarm_at_the_default_bars_on_250_000_labels(rate: float) -> None:
    # the benchmark measured 0.14 per 1e6 labels (3 in 21.8 million): 0.035 expected here
    detector = ConceptDriftDetector()
    hits, bound = run_classifier(detector, [rate] * 5000, 50, 17)
    assert hits == []
    assert bound / detector.looks < 5e-5


def test_regressor_false_alarms_within_the_bound() -> None:
    rng = np.random.default_rng(3)
    detector = ConceptDriftDetector(PerformanceTask.REGRESSOR, profile=LOW_BARS)
    alarms = 0
    bound = 0.0
    for i in range(1500):
        error = np.abs(rng.normal(0.0, 2.0, 40))
        decision = detector.update(
            START + i * HOUR, 40, float(error.sum()), float((error**2).sum())
        )
        alarms += decision.drift
        bound += detector.last_look_bound
    assert alarms <= bound


def test_step_up_is_detected_soon_and_named() -> None:
    delays, misplaced = [], []
    for seed in range(10):
        detector = ConceptDriftDetector()
        rng = np.random.default_rng(seed)
        for i in range(200):
            rate = 0.1 if i < 100 else 0.2
            decision = detector.update(START + i * HOUR, 50, float(rng.binomial(50, rate)))
            if decision.drift:
                break
        assert decision.drift and decision.increased
        assert i >= 100
        delays.append((i - 99) * 50)
        assert decision.since is not None
        misplaced.append(abs(decision.since - (START + 100 * HOUR)) / HOUR)
        assert 0.07 < decision.before < 0.13 and 0.15 < decision.after < 0.3
        assert decision.insight.startswith("error rate ")
        assert " % -> " in decision.insight and "from window 2026-12-" in decision.insight
    assert float(np.median(delays)) <= 350
    # the change is placed near the true step (a few hundred labels of noise at most)
    assert float(np.median(misplaced)) <= 4


def test_small_step_is_found_within_about_1000_labels() -> None:
    # 0.10 -> 0.15 with 10,000 labels before (bench/concept_drift.py compares the delay
    # with river's ADWIN on 30 streams; here 24 others, a sanity bound)
    delays = []
    for seed in range(24):
        detector = ConceptDriftDetector()
        hits, _ = run_classifier(detector, [0.1] * 200 + [0.15] * 60, 50, 100 + seed)
        after = [h for h in hits if h >= 200]
        delays.append((after[0] - 199) * 50 if after else 10_000)
    assert float(np.median(delays)) <= 1000


def test_step_down_is_a_change_too() -> None:
    detector = ConceptDriftDetector()
    hits, _ = run_classifier(detector, [0.3] * 100 + [0.15] * 100, 50, 11)
    assert hits and hits[0] >= 100
    # after the alarm the detector watches the new regime: no further alarms
    assert hits == hits[:1]


def test_insight_of_the_example() -> None:
    detector = ConceptDriftDetector()
    for i in range(10):
        decision = detector.update(START - 10 * HOUR + i * HOUR, 1000, 102.0)
    assert not decision.drift
    decision = detector.update(START, 1000, 198.0)
    assert decision.drift
    assert decision.insight == (
        "error rate 10.2 % -> 19.8 % from window 2026-12-07T10:00 "
        "(10,000 labels before, 1,000 after)"
    )


def test_regressor_step_in_mean_absolute_error() -> None:
    rng = np.random.default_rng(5)
    detector = ConceptDriftDetector(PerformanceTask.REGRESSOR)
    for i in range(100):
        scale = 1.0 if i < 50 else 1.5
        y = rng.normal(10.0, 3.0, 60)
        pred = y + rng.normal(0.0, scale, 60)
        summary = regression_summary(y, pred)
        decision = detector.update_summary(START + i * HOUR, summary)
        if decision.drift:
            break
    assert decision.drift and decision.increased and i >= 50
    assert decision.insight.startswith("mean absolute error 0.")


def test_errors_of_a_classifier_summary_counts_the_off_diagonal() -> None:
    summary = classification_summary(["a", "b", "a", "b", "a"], ["a", "a", "b", "b", "a"])
    assert errors_of(summary) == (5, 2.0, 2.0)


def test_late_labels_add_to_their_window() -> None:
    detector = ConceptDriftDetector()
    detector.update(START + HOUR, 10, 1.0)
    detector.update(START, 20, 2.0)
    detector.update(START + HOUR, 5, 3.0)
    assert [(w.start, w.count, w.errors) for w in detector.windows] == [
        (START, 20, 2.0),
        (START + HOUR, 15, 4.0),
    ]


def test_buckets_are_an_exponential_histogram() -> None:
    detector = ConceptDriftDetector(per_level=3)
    run_classifier(detector, [0.1] * 1000, 50, 1)
    levels = [w.level for w in detector.windows]
    # oldest first, sizes never growing towards the present, at most 3 of each size
    assert levels == sorted(levels, reverse=True)
    assert all(levels.count(level) <= 3 for level in set(levels))
    assert len(detector.windows) <= 3 * 11
    assert sum(w.count for w in detector.windows) == 50_000
    assert [w.count for w in detector.windows] == [50 * 2**level for level in levels]
    starts = [w.start for w in detector.windows]
    assert starts == sorted(starts) and starts[0] == START


def test_late_labels_of_a_merged_window_join_its_bucket() -> None:
    detector = ConceptDriftDetector(per_level=2)
    for i in range(12):
        detector.update(START + i * HOUR, 50, 5.0)
    first = detector.windows[0]
    assert first.level > 0
    detector.update(START + HOUR, 7, 7.0)  # inside the oldest bucket's span
    detector.update(START - HOUR, 3, 3.0)  # older than every bucket
    assert detector.windows[0] == WindowErrors(
        START - HOUR, first.count + 10, first.errors + 10.0, first.squares + 10.0, first.level
    )
    assert sum(w.count for w in detector.windows) == 12 * 50 + 10


def test_state_is_bounded_by_max_windows() -> None:
    detector = ConceptDriftDetector(max_windows=8, per_level=5)
    run_classifier(detector, [0.1] * 100, 50, 1)
    assert len(detector.windows) == 8
    assert sum(w.count for w in detector.windows) == 5000


def test_bars_are_highest_on_short_and_long_recent_parts() -> None:
    profile = ThresholdProfile()
    assert profile.at(100) > profile.at(300) > profile.at(1500)
    assert profile.at(12_000) > profile.at(1500)
    assert profile.shifted(0.5).at(700) == pytest.approx(profile.at(700) + 0.5)
    # two splits at bar 5 cost a look at most twice the normal two-sided tail at 5
    assert ThresholdProfile(5.0, 0.0, 0.0).look_bound([200, 400]) == pytest.approx(
        1.1467e-6, rel=1e-3
    )


def test_persistence_round_trip_continues_identically() -> None:
    profile = ThresholdProfile(4.2, 6.0, 0.2, 1000.0)
    first = ConceptDriftDetector(profile=profile, min_labels=80, max_windows=64)
    rates = [0.1] * 120 + [0.25] * 60
    rng = np.random.default_rng(9)
    errors = [float(rng.binomial(50, r)) for r in rates]
    for i in range(100):
        first.update(START + i * HOUR, 50, errors[i])
    second = ConceptDriftDetector.from_dict(json.loads(json.dumps(first.to_dict())))
    assert second.to_dict() == first.to_dict()
    for i in range(100, len(rates)):
        a = first.update(START + i * HOUR, 50, errors[i])
        b = second.update(START + i * HOUR, 50, errors[i])
        assert a == b
    assert first.alarms == second.alarms == 1
    assert second.profile == profile


def test_a_version_1_state_loads_with_the_default_bars() -> None:
    # what the earlier detector (one alpha per look) saved in performance.sqlite
    old = {
        "version": 1,
        "task": "classifier",
        "alpha": 1e-5,
        "min_labels": 100,
        "max_windows": 256,
        "floor": START,
        "looks": 12,
        "alarms": 1,
        "windows": [[START + i * HOUR, 50, 5.0, 5.0] for i in range(12)],
    }
    detector = ConceptDriftDetector.from_dict(old)
    assert detector.profile == ThresholdProfile()
    assert (detector.looks, detector.alarms, detector.floor) == (12, 1, START)
    assert sum(w.count for w in detector.windows) == 600
    assert len(detector.windows) < 12  # compressed into buckets
    assert detector.to_dict()["version"] == 2
    assert not detector.update(START + 12 * HOUR, 50, 6.0).drift


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": 3},
        {"version": 2, "task": "classifier"},
        {"version": 1, "task": "classifier", "profile": {}},
        {"version": 1, "task": "x"},
    ],
)
def test_from_dict_rejects_other_input(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConceptDriftDetector.from_dict(state)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ConceptDriftDetector(min_labels=0)
    with pytest.raises(ValueError):
        ThresholdProfile(base=0.0)
    with pytest.raises(ValueError):
        ThresholdProfile(small=float("nan"))
    with pytest.raises(ValueError):
        ConceptDriftDetector().update(START, -1, 0.0)
    with pytest.raises(ValueError):
        ConceptDriftDetector(PerformanceTask.REGRESSOR).update(START, 5, 1.0, float("nan"))
