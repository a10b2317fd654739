"""The SQLite alert history: episodes, ordering, pruning, persistence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlspan.collector.alerts import Alert, AlertStatus, SqliteAlertHistory


def _alert(n: int, status: AlertStatus = AlertStatus.FIRING) -> Alert:
    return Alert(
        name="FeatureDrift",
        severity="info",
        status=status,
        labels={"alertname": "FeatureDrift", "feature": f"f{n}"},
        annotations={"insight": f"f{n}: drift"},
        insight=f"f{n}: drift",
        starts_at=1000.0 + n,
        ends_at=2000.0 + n if status is AlertStatus.RESOLVED else None,
    )


def test_episode_is_updated_in_place_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "data" / "alerts.sqlite"
    history = SqliteAlertHistory(path)
    history.record([_alert(1)])
    history.record([_alert(2)])
    history.record([_alert(1).resolved(1500.0)])
    history.close()
    history.close()

    reopened = SqliteAlertHistory(path)
    assert [a.labels["feature"] for a in reopened.firing()] == ["f2"]
    recent = reopened.recent(10)
    assert [(a.labels["feature"], a.status) for a in recent] == [
        ("f2", AlertStatus.FIRING),
        ("f1", AlertStatus.RESOLVED),
    ]
    assert recent[1].ends_at == 1500.0
    assert recent[1] == _alert(1).resolved(1500.0)


def test_a_new_episode_of_the_same_instance_is_a_new_row(tmp_path: Path) -> None:
    history = SqliteAlertHistory(tmp_path / "a.sqlite")
    history.record([_alert(1).resolved(1001.5)])
    again = Alert(**{**_alert(1).__dict__, "starts_at": 1002.0})
    history.record([again])
    assert len(history.recent(10)) == 2
    assert history.firing() == [again]


def test_resolved_episodes_are_pruned_to_the_limit_firing_ones_kept(tmp_path: Path) -> None:
    history = SqliteAlertHistory(tmp_path / "a.sqlite", keep=3)
    history.record([_alert(0)])
    for n in range(1, 8):
        history.record([_alert(n, AlertStatus.RESOLVED)])
    features = [a.labels["feature"] for a in history.recent(100)]
    assert features == ["f7", "f6", "f5", "f0"]
    assert history.recent(2)[0].labels["feature"] == "f7"


def test_a_closed_history_refuses_writes(tmp_path: Path) -> None:
    history = SqliteAlertHistory(tmp_path / "a.sqlite")
    history.close()
    with pytest.raises(RuntimeError, match="closed"):
        history.record([_alert(1)])


def test_one_call_stores_a_whole_evaluation(tmp_path: Path) -> None:
    history = SqliteAlertHistory(tmp_path / "a.sqlite")
    history.record([])
    history.record([_alert(1), _alert(2), _alert(3).resolved(1500.0)])
    assert [a.labels["feature"] for a in history.firing()] == ["f1", "f2"]
    assert len(history.recent(10)) == 3


def test_recent_of_one_model(tmp_path: Path) -> None:
    history = SqliteAlertHistory(tmp_path / "a.sqlite")
    churn = Alert(**{**_alert(1).__dict__, "labels": {"alertname": "X", "model": "churn"}})
    fraud = Alert(**{**_alert(2).__dict__, "labels": {"alertname": "X", "model": "fraud"}})
    history.record([churn, fraud, _alert(3)])
    assert history.recent(10, "churn") == [churn]
    assert history.recent(10, "none") == []
    assert len(history.recent(10)) == 3


def test_a_history_without_the_model_column_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE alert_episodes (fingerprint TEXT NOT NULL, starts_at REAL NOT NULL,"
            " name TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,"
            " labels TEXT NOT NULL, annotations TEXT NOT NULL, insight TEXT NOT NULL,"
            " ends_at REAL, PRIMARY KEY (fingerprint, starts_at))"
        )
        db.execute(
            "INSERT INTO alert_episodes VALUES ('fp', 1.0, 'X', 'info', 'firing',"
            ' \'{"alertname": "X", "model": "churn"}\', \'{}\', \'x drifted\', NULL)'
        )
    db.close()
    history = SqliteAlertHistory(path)
    assert [a.insight for a in history.recent(10, "churn")] == ["x drifted"]
    history.record([_alert(1)])
    assert len(history.recent(10)) == 2
    history.close()
