"""The concept-drift detector: bounded false alarms on stationary streams, detection of
steps in either direction, regressors, late labels and a persistence round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlspan.collector.performance.concept import ConceptDriftDetector, errors_of, recent_sizes
from mlspan.semconv.values import PerformanceTask
from mlspan.summaries.performance_build import classification_summary, regression_summary

HOUR = 3600.0
START = 1_796_637_600.0  # 2026-12-07T10:00 UTC


def run_classifier(
    detector: ConceptDriftDetector, rates: list[float], window: int, seed: int
) -> list[int]:
    """Window indices the detector alarms on, for windows of ``window`` labels."""
    rng = np.random.default_rng(seed)
    hits = []
    for i, rate in enumerate(rates):
        errors = float(rng.binomial(window, rate))
        if detector.update(START + i * HOUR, window, errors).drift:
            hits.append(i)
    return hits


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.3])
def test_false_alarms_per_look_within_alpha_on_stationary_streams(rate: float) -> None:
    alpha = 0.01
    looks = alarms = 0
    for seed in range(8):
        detector = ConceptDriftDetector(alpha=alpha, min_labels=100)
        alarms += len(run_classifier(detector, [rate] * 400, 50, seed))
        looks += detector.looks
    assert looks == 3200
    assert alarms / looks <= alpha


def test_regressor_false_alarms_within_alpha() -> None:
    alpha = 0.01
    rng = np.random.default_rng(3)
    detector = ConceptDriftDetector(PerformanceTask.REGRESSOR, alpha=alpha)
    alarms = 0
    for i in range(1500):
        error = np.abs(rng.normal(0.0, 2.0, 40))
        decision = detector.update(
            START + i * HOUR, 40, float(error.sum()), float((error**2).sum())
        )
        alarms += decision.drift
    assert alarms / detector.looks <= alpha


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
    assert float(np.median(delays)) <= 600
    # the change is placed near the true step (a few hundred labels of noise at most)
    assert float(np.median(misplaced)) <= 4


def test_step_down_is_a_change_too() -> None:
    detector = ConceptDriftDetector()
    hits = run_classifier(detector, [0.3] * 100 + [0.15] * 100, 50, 11)
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


def test_state_is_bounded_by_max_windows() -> None:
    detector = ConceptDriftDetector(max_windows=16)
    run_classifier(detector, [0.1] * 100, 50, 1)
    assert len(detector.windows) == 16
    assert sum(w.count for w in detector.windows) == 5000
    assert max(recent_sizes(16)) < 16


def test_persistence_round_trip_continues_identically() -> None:
    first = ConceptDriftDetector(alpha=1e-4, min_labels=80, max_windows=64)
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


@pytest.mark.parametrize(
    "state",
    [{}, {"version": 2}, {"version": 1, "task": "classifier"}, {"version": 1, "task": "x"}],
)
def test_from_dict_rejects_other_input(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConceptDriftDetector.from_dict(state)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ConceptDriftDetector(alpha=0.0)
    with pytest.raises(ValueError):
        ConceptDriftDetector().update(START, -1, 0.0)
    with pytest.raises(ValueError):
        ConceptDriftDetector(PerformanceTask.REGRESSOR).update(START, 5, 1.0, float("nan"))
