"""Concept drift in the processor on parsed batches: a detector per accepted version fed
span by span, the ``concept_drift`` rule's firing and resolving, the model cap, and the
detector state across a restart (a damaged one skipped)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from mlspan.collector.alerts.config import DEFAULT_RULES, AlertRuleConfig, RuleKind
from mlspan.collector.alerts.performance_rules import performance_candidates
from mlspan.collector.performance.config import PerformanceConfig
from mlspan.collector.performance.extract import ModelKey
from mlspan.collector.performance.processor import STORE_FILE, PerformanceProcessor
from mlspan.collector.performance.store import PerformanceStore
from mlspan.collector.pipeline.factory import Host
from mlspan.summaries.performance_build import classification_summary
from tests.collector.performance.spans import batch_of, performance_span

HOUR = 3600.0
RULE = AlertRuleConfig("ConceptDrift", RuleKind.CONCEPT_DRIFT)
KEY = ModelKey("svc", "churn", "v1")


def _processor(tmp_path: Path, **options: int) -> PerformanceProcessor:
    config = PerformanceConfig(**options)  # type: ignore[arg-type]
    store = PerformanceStore(tmp_path / STORE_FILE)
    processor = PerformanceProcessor(config, Host(data_dir=tmp_path), None, store)
    processor.start()
    return processor


def _feed(processor: PerformanceProcessor, window: int, error: float, model: str = "churn") -> None:
    rng = np.random.default_rng(window)
    truth = rng.integers(0, 2, 400)
    pred = np.where(rng.random(400) < error, 1 - truth, truth)
    summary = classification_summary(truth, pred)
    processor.consume(batch_of([performance_span(summary, model, "v1", window * HOUR)]))


def test_alarm_fires_the_rule_and_resolves_once_the_new_regime_is_stable(tmp_path: Path) -> None:
    assert any(rule.kind is RuleKind.CONCEPT_DRIFT for rule in DEFAULT_RULES)
    processor = _processor(tmp_path)
    for window in range(10):
        _feed(processor, window, 0.1)
    result = processor.result(KEY)
    assert result is not None and result.concept is not None
    assert not result.concept.latest.drift
    assert performance_candidates([RULE], result) == []
    window = 10
    while True:
        _feed(processor, window, 0.3)
        result = processor.result(KEY)
        assert result is not None and result.concept is not None
        if result.concept.alarm is not None:
            break
        window += 1
        assert window < 14, "no alarm after four windows at three times the error rate"
    (candidate,) = performance_candidates([RULE], result)
    assert candidate.labels["alertname"] == "ConceptDrift"
    assert candidate.labels["model"] == "churn"
    assert "from window 1970-01-01T10:00" in candidate.insight
    assert "error rate" in candidate.insight
    # the alarm stands until 1,000 labels of the new regime test stable
    while result.concept.alarm is not None:
        window += 1
        assert window < 20, "the alarm never resolved on a stable new regime"
        _feed(processor, window, 0.3)
        result = processor.result(KEY)
        assert result is not None and result.concept is not None
    assert performance_candidates([RULE], result) == []
    assert result.concept.alarms == 1
    processor.shutdown()


def test_detectors_follow_the_model_cap_and_survive_a_restart(tmp_path: Path) -> None:
    processor = _processor(tmp_path, max_models=1)
    for window in range(6):
        _feed(processor, window, 0.1)
        _feed(processor, window, 0.1, model="other")
    assert processor.concepts.status(ModelKey("svc", "other", "v1")) is None
    before = processor.concepts.status(KEY)
    assert before is not None and before.looks == 6
    processor.shutdown()

    restarted = _processor(tmp_path, max_models=1)
    assert restarted.concepts.status(KEY) == before
    _feed(restarted, 6, 0.1)
    after = restarted.concepts.status(KEY)
    assert after is not None and after.looks == 7
    restarted.shutdown()

    db = sqlite3.connect(tmp_path / STORE_FILE)
    with db:
        db.execute("UPDATE performance_concept SET state = '{\"detector\": 1}'")
    db.close()
    damaged = _processor(tmp_path, max_models=1)
    assert damaged.concepts.status(KEY) is None
    assert damaged.result(KEY) is not None
    damaged.shutdown()
