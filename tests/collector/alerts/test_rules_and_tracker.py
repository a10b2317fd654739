"""Rules turn results into alert instances; the tracker turns changes into transitions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from mlspan.collector.alerts import (
    Alert,
    AlertRuleConfig,
    AlertStatus,
    RuleKind,
    SqliteAlertHistory,
)
from mlspan.collector.alerts.config import DEFAULT_RULES
from mlspan.collector.alerts.rules import drift_candidates, ingest_candidates
from mlspan.collector.alerts.tracker import INGEST_SCOPE, AlertTracker, model_scope
from mlspan.collector.drift.results import ModelKey
from tests.collector.alerts.builders import (
    KEY,
    Clock,
    calm_window,
    check,
    dataset,
    drifted_window,
    feature,
)


@pytest.fixture
def history(tmp_path: Path) -> SqliteAlertHistory:
    return SqliteAlertHistory(tmp_path / "alerts.sqlite")


def _tracker(
    history: SqliteAlertHistory,
    sent: list[Sequence[Alert]],
    clock: Clock,
    rules: Sequence[AlertRuleConfig] = DEFAULT_RULES,
) -> AlertTracker:
    return AlertTracker(rules, history, sent.append, clock)


def test_default_rules_on_a_drifted_window() -> None:
    validation = [check("age", "range", False), check("income", "null_rate", True)]
    found = drift_candidates(DEFAULT_RULES, drifted_window(), validation)
    by_rule: dict[str, list[dict[str, str]]] = {}
    for candidate in found:
        by_rule.setdefault(candidate.rule.name, []).append(dict(candidate.labels))
    assert [labels.get("feature") for labels in by_rule["FeatureDrift"]] == ["age", "income"]
    assert by_rule["DatasetDrift"] == [
        {
            "alertname": "DatasetDrift",
            "severity": "warning",
            "service": "churn-service",
            "model": "churn",
            "version": "3",
        }
    ]
    assert by_rule["ValidationFailed"][0]["check"] == "range"
    assert len(by_rule["ValidationFailed"]) == 1
    feature_drift = next(c for c in found if c.labels.get("feature") == "age")
    assert feature_drift.insight == "age: W/sigma 0.41, PSI 0.35 -> drift"
    assert feature_drift.annotations["insight"] == feature_drift.insight
    assert feature_drift.annotations["description"]


def test_metric_threshold_rule_uses_its_own_threshold_or_the_metric_s() -> None:
    own = AlertRuleConfig("HighPsi", RuleKind.FEATURE_DRIFT, metric="psi", threshold=0.3)
    metric_default = AlertRuleConfig("Psi", RuleKind.FEATURE_DRIFT, metric="psi")
    found = drift_candidates([own, metric_default], drifted_window(), [])
    assert [(c.rule.name, c.labels["feature"], c.labels["metric"]) for c in found] == [
        ("HighPsi", "age", "psi"),
        ("Psi", "age", "psi"),
    ]
    informational = AlertRuleConfig("Ks", RuleKind.FEATURE_DRIFT, metric="ks", threshold=0.04)
    assert [
        c.labels["feature"] for c in drift_candidates([informational], drifted_window(), [])
    ] == [
        "age",
        "income",
    ]


def test_filters_and_share_threshold() -> None:
    rules = [
        AlertRuleConfig("Share", RuleKind.DATASET_DRIFT, threshold=0.9),
        AlertRuleConfig("Other", RuleKind.FEATURE_DRIFT, models=("fraud",)),
        AlertRuleConfig("OnlyIncome", RuleKind.FEATURE_DRIFT, features=("income",)),
        AlertRuleConfig("Changes", RuleKind.VALIDATION_FAILURE, checks=("metric_change",)),
    ]
    validation = [check("age", "range", False), check("age", "metric_change:mean", False)]
    found = drift_candidates(rules, drifted_window(), validation)
    assert [(c.rule.name, c.labels.get("feature"), c.labels.get("check")) for c in found] == [
        ("OnlyIncome", "income", None),
        ("Changes", "age", "metric_change:mean"),
    ]


def test_ingest_rule_fires_above_its_rate() -> None:
    rule = AlertRuleConfig("SpansDropped", RuleKind.INGEST_DROPS, threshold=1.0)
    found = ingest_candidates([rule], {"queue_full": 5.0, "export_failed": 0.5})
    assert [c.labels["reason"] for c in found] == ["queue_full"]
    assert found[0].insight == "spans dropped (queue_full): 5/s (limit 1/s)"


def test_firing_then_resolved_transitions_are_stored_and_notified(
    history: SqliteAlertHistory,
) -> None:
    sent: list[Sequence[Alert]] = []
    clock = Clock()
    tracker = _tracker(history, sent, clock)
    scope = model_scope(KEY)

    fired = tracker.update(scope, drift_candidates(DEFAULT_RULES, drifted_window(), []))
    assert {a.name for a in fired} == {"DatasetDrift", "FeatureDrift"}
    assert all(a.status is AlertStatus.FIRING and a.ends_at is None for a in fired)
    assert sent == [fired]
    assert tracker.firing_counts() == {
        ("DatasetDrift", "warning"): 1,
        ("FeatureDrift", "info"): 2,
        ("ValidationFailed", "warning"): 0,
        ("PerformanceDrop", "warning"): 0,
        ("ConceptDrift", "warning"): 0,
        ("ExperimentAlert", "warning"): 0,
        ("SpansDropped", "warning"): 0,
    }

    clock.now += 60
    # The same result again: nothing changes, nothing is sent.
    assert tracker.update(scope, drift_candidates(DEFAULT_RULES, drifted_window(), [])) == []
    assert len(sent) == 1

    clock.now += 60
    # income recovers: its alert resolves, and the share (1/3) ends the dataset drift.
    recovering = dataset(
        feature("age", 0.41, 0.35), feature("income", 0.0, 0.0), feature("tenure", 0.0, 0.0)
    )
    changed = tracker.update(scope, drift_candidates(DEFAULT_RULES, recovering, []))
    assert sorted((a.name, a.labels.get("feature", "")) for a in changed) == [
        ("DatasetDrift", ""),
        ("FeatureDrift", "income"),
    ]
    assert all(a.status is AlertStatus.RESOLVED and a.ends_at == clock.now for a in changed)
    assert [a.labels.get("feature") for a in tracker.firing()] == ["age"]

    clock.now += 60
    resolved = tracker.update(scope, drift_candidates(DEFAULT_RULES, calm_window(), []))
    assert {a.status for a in resolved} == {AlertStatus.RESOLVED}
    assert tracker.firing() == []
    stored = history.recent(10)
    assert len(stored) == 3
    assert all(a.status is AlertStatus.RESOLVED for a in stored)
    assert history.firing() == []


def test_scopes_are_independent(history: SqliteAlertHistory) -> None:
    sent: list[Sequence[Alert]] = []
    tracker = _tracker(history, sent, Clock())
    other = ModelKey("churn-service", "churn", "4")
    tracker.update(model_scope(KEY), drift_candidates(DEFAULT_RULES, drifted_window(), []))
    other_window = dataset(feature("age", 0.0, 0.0), key=other)
    # A calm result for version 4 does not resolve version 3's alerts.
    assert (
        tracker.update(model_scope(other), drift_candidates(DEFAULT_RULES, other_window, [])) == []
    )
    assert tracker.update(INGEST_SCOPE, []) == []
    assert len(tracker.firing()) == 3


def test_insight_updates_without_a_notification(history: SqliteAlertHistory) -> None:
    sent: list[Sequence[Alert]] = []
    tracker = _tracker(history, sent, Clock())
    scope = model_scope(KEY)
    tracker.update(scope, drift_candidates(DEFAULT_RULES, dataset(feature("age", 0.41, 0.35)), []))
    tracker.update(scope, drift_candidates(DEFAULT_RULES, dataset(feature("age", 0.8, 0.9)), []))
    assert len(sent) == 1
    age = next(a for a in tracker.firing() if a.name == "FeatureDrift")
    assert age.insight == "age: W/sigma 0.80, PSI 0.90 -> drift"
    stored = next(a for a in history.firing() if a.name == "FeatureDrift")
    assert stored.annotations["insight"] == age.insight


def test_restart_restores_firing_alerts_so_they_can_resolve(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    clock = Clock()
    first = SqliteAlertHistory(path)
    _tracker(first, [], clock).update(
        model_scope(KEY), drift_candidates(DEFAULT_RULES, drifted_window(), [])
    )
    first.close()

    second = SqliteAlertHistory(path)
    sent: list[Sequence[Alert]] = []
    tracker = _tracker(second, sent, clock)
    assert tracker.restore() == []
    assert len(tracker.firing()) == 3
    clock.now += 30
    resolved = tracker.update(model_scope(KEY), [])
    assert len(resolved) == 3
    assert all(a.starts_at == 1_700_000_000.0 for a in resolved)
    assert second.firing() == []


def test_alerts_of_a_removed_rule_resolve_on_restore(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    history = SqliteAlertHistory(path)
    _tracker(history, [], Clock()).update(
        model_scope(KEY), drift_candidates(DEFAULT_RULES, drifted_window(), [])
    )
    sent: list[Sequence[Alert]] = []
    only_dataset = [r for r in DEFAULT_RULES if r.kind is RuleKind.DATASET_DRIFT]
    tracker = _tracker(history, sent, Clock(), only_dataset)
    resolved = tracker.restore()
    assert {a.name for a in resolved} == {"FeatureDrift"}
    assert sent == [resolved]
    assert [a.name for a in tracker.firing()] == ["DatasetDrift"]


def test_for_seconds_keeps_an_instance_pending_until_it_lasted(
    history: SqliteAlertHistory,
) -> None:
    rule = AlertRuleConfig("LastingDrift", RuleKind.DATASET_DRIFT, for_seconds=120)
    sent: list[Sequence[Alert]] = []
    clock = Clock()
    start = clock.now
    tracker = _tracker(history, sent, clock, [rule])
    scope = model_scope(KEY)
    drifted = drift_candidates([rule], drifted_window(), [])
    calm = drift_candidates([rule], calm_window(), [])

    assert tracker.update(scope, drifted) == []
    clock.now = start + 60
    assert tracker.update(scope, drifted) == []
    clock.now = start + 90
    assert tracker.update(scope, calm) == []  # pending, never fired: nothing resolves
    clock.now = start + 100
    assert tracker.update(scope, drifted) == []
    clock.now = start + 200
    assert tracker.update(scope, drifted) == []
    assert tracker.firing() == []
    clock.now = start + 220
    fired = tracker.update(scope, drifted)
    assert [(a.name, a.starts_at) for a in fired] == [("LastingDrift", start + 100)]
    assert sent == [fired]
    assert history.recent(10) == fired
