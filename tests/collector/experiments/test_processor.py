"""The experiments processor on parsed OTLP batches: arms by model version and by arm
name, per-arm totals equal to scikit-learn's metrics on the raw rows, looks and
decisions, the split check, refusals, the store across a restart, alerts and the
Prometheus families."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client import CollectorRegistry
from sklearn.metrics import accuracy_score, mean_absolute_error

from mlspan import semconv
from mlspan.collector.alerts.config import DEFAULT_RULES
from mlspan.collector.alerts.experiment_rules import experiment_candidates
from mlspan.collector.experiments.config import (
    STATE_FILE,
    ArmConfig,
    ExperimentConfig,
    ExperimentsConfig,
)
from mlspan.collector.experiments.processor import ExperimentsProcessor
from mlspan.collector.experiments.prometheus import ExperimentMetrics
from mlspan.collector.experiments.results import experiment_result
from mlspan.collector.experiments.store import ExperimentStore
from mlspan.collector.pipeline.factory import Host
from mlspan.summaries.performance_build import classification_summary, regression_summary
from tests.collector.performance.spans import batch_of, performance_span, span_with

HOUR = 3600.0
V3 = "model:xxh3_128:" + "3" * 32
V4 = "model:xxh3_128:" + "4" * 32


def by_version(name: str = "churn-v4", **options: object) -> ExperimentConfig:
    arms = (ArmConfig("v3", V3), ArmConfig("v4", V4))
    return ExperimentConfig(name, arms, control="v3", **options)  # type: ignore[arg-type]


def by_arm(name: str = "router", **options: object) -> ExperimentConfig:
    arms = (ArmConfig("control"), ArmConfig("treatment"))
    return ExperimentConfig(name, arms, **options)  # type: ignore[arg-type]


def processor_for(
    tmp_path: Path, *experiments: ExperimentConfig, clock: float = 1e9
) -> ExperimentsProcessor:
    config = ExperimentsConfig(experiments=tuple(experiments))
    store = ExperimentStore(tmp_path / STATE_FILE)
    processor = ExperimentsProcessor(config, Host(data_dir=tmp_path), None, store, lambda: clock)
    processor.start()
    return processor


def labelled(
    seed: int, rows: int, accuracy: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    pred = np.where(rng.random(rows) < accuracy, truth, 1 - truth)
    return truth, pred


def predict_span(version: str | None, rows: int, **extra: object) -> object:
    attributes: dict[str, object] = {semconv.OPERATION_NAME: "predict", semconv.DATASET_ROWS: rows}
    if version is not None:
        attributes[semconv.MODEL_VERSION] = version
        attributes[semconv.CALL_ROLE] = "user"
    attributes.update(extra)
    return span_with(attributes)  # type: ignore[arg-type]


def outcome_spans(
    version: str, truth: Sequence[int], pred: Sequence[int], windows: int, arm: str | None = None
) -> list[object]:
    spans = []
    for i, part in enumerate(np.array_split(np.arange(len(truth)), windows)):
        span = performance_span(
            classification_summary(np.asarray(truth)[part], np.asarray(pred)[part]),
            "churn",
            version,
            i * HOUR,
        )
        if arm is not None:
            span.attributes.add(key=semconv.EXPERIMENT_ARM).value.string_value = arm
        spans.append(span)
    return spans


def test_arms_by_version_add_up_to_scikit_learn_and_decide(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth3, pred3 = labelled(1, 6000, 0.80)
    truth4, pred4 = labelled(2, 6000, 0.86)
    for step in range(6):  # six batches: six looks
        part = slice(step * 1000, (step + 1) * 1000)
        spans = outcome_spans(V3, truth3[part], pred3[part], 2)
        spans += outcome_spans(V4, truth4[part], pred4[part], 2)
        spans += [predict_span(V3, 1000), predict_span(V4, 1000)]
        processor.consume(batch_of(spans))  # type: ignore[arg-type]
    (result,) = processor.results()
    control, challenger = result.arms
    assert (control.outcomes, challenger.outcomes) == (6000, 6000)
    assert (control.assigned, challenger.assigned) == (6000, 6000)
    assert control.value == pytest.approx(accuracy_score(truth3, pred3), abs=1e-12)
    assert challenger.value == pytest.approx(accuracy_score(truth4, pred4), abs=1e-12)
    (comparison,) = result.comparisons
    assert comparison.status == "better"
    assert comparison.decided_at is not None and comparison.decided_at <= 12_000
    assert comparison.low is not None and comparison.low > 0
    assert comparison.verdict.startswith("v4 better than v3 on accuracy: +")
    assert f"decided after {comparison.decided_at:,} outcomes" in comparison.verdict
    assert not result.srm.mismatch and result.srm.unit == "predictions"
    assert processor.record("churn-v4").sequential["v4"].looks == 6  # type: ignore[union-attr]


def test_arms_by_name_take_the_router_attribute_and_the_experiment_name(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_arm(), by_arm("other"))
    truth, pred = labelled(3, 2000, 0.7)
    spans = outcome_spans(V3, truth[:1000], pred[:1000], 1, arm="control")
    spans += outcome_spans(V3, truth[1000:], pred[1000:], 1, arm="treatment")
    spans.append(predict_span(None, 0, **{semconv.EXPERIMENT_ARM: "control"}))
    spans.append(span_with({semconv.EXPERIMENT_ARM: "treatment"}))  # a router span: one
    spans.append(span_with({semconv.EXPERIMENT_ARM: "treatment", semconv.EXPERIMENT_NAME: "other"}))
    spans.append(span_with({semconv.EXPERIMENT_ARM: "nobody"}))
    spans.append(predict_span(V3, 500))  # the version does not matter here
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    router, other = (experiment_result(r) for r in processor.records()[::-1])
    assert router.name == "router"
    assert [a.outcomes for a in router.arms] == [1000, 1000]
    assert router.arms[0].value == pytest.approx(accuracy_score(truth[:1000], pred[:1000]))
    assert [a.assigned for a in router.arms] == [0, 1]  # rows 0 count nothing
    assert [a.assigned for a in other.arms] == [0, 2]


def test_mean_absolute_error_from_regression_sums(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version(metric="mae", minimum_detectable_effect=0.05))
    rng = np.random.default_rng(4)
    truth = rng.normal(10, 2, 4000)
    pred3 = truth + rng.normal(0, 1.0, 4000)
    pred4 = truth + rng.normal(0, 0.8, 4000)
    spans = [
        performance_span(regression_summary(truth[p], pred[p]), "price", version, i * HOUR)
        for version, pred in ((V3, pred3), (V4, pred4))
        for i, p in enumerate(np.array_split(np.arange(4000), 4))
    ]
    processor.consume(batch_of(spans))
    (result,) = processor.results()
    assert result.arms[0].value == pytest.approx(mean_absolute_error(truth, pred3), rel=1e-9)
    assert result.arms[1].value == pytest.approx(mean_absolute_error(truth, pred4), rel=1e-9)
    (comparison,) = result.comparisons
    assert comparison.status == "better"  # lower error is better
    assert comparison.difference is not None and comparison.difference < 0


def test_nothing_is_decided_before_the_minimum_outcomes(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version(min_outcomes_per_arm=500))
    truth3, pred3 = labelled(5, 400, 0.5)
    truth4, pred4 = labelled(6, 400, 0.99)
    spans = outcome_spans(V3, truth3, pred3, 1) + outcome_spans(V4, truth4, pred4, 1)
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    (comparison,) = processor.results()[0].comparisons
    assert comparison.status == "undecided"
    assert "500 per arm needed before a decision" in comparison.verdict


def test_outcomes_outside_the_experiment_window_and_service_do_not_count(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version(service="svc", start=2 * HOUR, end=4 * HOUR))
    truth, pred = labelled(7, 600, 0.8)
    spans = outcome_spans(V3, truth, pred, 6)  # windows 0..5 of 100 rows each
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    processor.consume(batch_of(outcome_spans(V3, truth, pred, 6), service="else"))  # type: ignore[arg-type]
    assert processor.record("churn-v4").totals("v3").outcomes == 200  # type: ignore[union-attr]


def test_the_split_check_flags_a_mismatch_and_the_alert_fires(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth, pred = labelled(8, 2000, 0.8)
    spans = outcome_spans(V3, truth[:1000], pred[:1000], 1)
    spans += outcome_spans(V4, truth[1000:], pred[1000:], 1)
    spans += [predict_span(V3, 5400), predict_span(V4, 4600)]
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    (result,) = processor.results()
    assert result.srm.mismatch and result.srm.observed == (5400, 4600)
    assert result.srm.p_value is not None and result.srm.p_value < 1e-10
    (alert,) = experiment_candidates(DEFAULT_RULES, result)
    assert alert.labels["reason"] == "sample_ratio_mismatch"
    assert "v3 5,400, v4 4,600" in alert.insight and "v3 50%, v4 50%" in alert.insight


def test_a_worse_challenger_fires_the_experiment_alert(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth3, pred3 = labelled(9, 5000, 0.85)
    truth4, pred4 = labelled(10, 5000, 0.78)
    spans = outcome_spans(V3, truth3, pred3, 5) + outcome_spans(V4, truth4, pred4, 5)
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    (result,) = processor.results()
    assert result.comparisons[0].status == "worse"
    (alert,) = experiment_candidates(DEFAULT_RULES, result)
    assert alert.labels == {
        "alertname": "ExperimentAlert",
        "severity": "warning",
        "experiment": "churn-v4",
        "reason": "worse",
        "arm": "v4",
    }
    assert "v4 worse than v3 on accuracy: -" in alert.insight


def test_malformed_spans_are_refused_and_counted(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth, pred = labelled(11, 100, 0.8)
    good = outcome_spans(V3, truth, pred, 1)[0]
    broken = span_with(
        {
            semconv.OPERATION_NAME: "labels",
            semconv.MODEL_VERSION: V3,
            semconv.PERFORMANCE_TASK: "classifier",
            semconv.PERFORMANCE_COUNT: 5,
        }
    )
    huge = predict_span(V3, -4)
    processor.consume(batch_of([broken, huge, good]))  # type: ignore[list-item]
    assert processor.refused_spans == 2
    assert processor.record("churn-v4").totals("v3").outcomes == 100  # type: ignore[union-attr]


def test_state_survives_a_restart_and_a_changed_declaration_starts_over(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth, pred = labelled(12, 3000, 0.8)
    spans = outcome_spans(V3, truth, pred, 3) + outcome_spans(V4, truth, pred, 3)
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    declared, created = processor.declare(by_arm("api-declared"))
    assert created and declared.origin == "api"
    before = processor.record("churn-v4")
    processor.shutdown()
    processor.shutdown()

    again = processor_for(tmp_path, by_version())
    assert again.record("churn-v4") == before
    assert again.record("api-declared") is not None  # API declarations are kept
    again.shutdown()

    changed = processor_for(tmp_path, by_version(alpha=0.01))
    record = changed.record("churn-v4")
    assert record is not None and record.outcomes == 0
    changed.shutdown()


def test_prometheus_families(tmp_path: Path) -> None:
    processor = processor_for(tmp_path, by_version())
    truth3, pred3 = labelled(13, 4000, 0.80)
    truth4, pred4 = labelled(14, 4000, 0.88)
    spans = outcome_spans(V3, truth3, pred3, 4) + outcome_spans(V4, truth4, pred4, 4)
    processor.consume(batch_of(spans))  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(ExperimentMetrics(processor))
    arm = {"experiment": "churn-v4", "arm": "v4"}
    assert registry.get_sample_value("mlspan_experiment_outcomes", arm) == 4000
    metric = registry.get_sample_value("mlspan_experiment_metric", {**arm, "metric": "accuracy"})
    assert metric == pytest.approx(accuracy_score(truth4, pred4))
    assert registry.get_sample_value("mlspan_experiment_verdict", {**arm, "verdict": "better"}) == 1
    low = registry.get_sample_value(
        "mlspan_experiment_difference_bound", {**arm, "metric": "accuracy", "bound": "low"}
    )
    assert low is not None and low > 0
    srm = registry.get_sample_value(
        "mlspan_experiment_sample_ratio_mismatch", {"experiment": "churn-v4"}
    )
    assert srm == 0
    assert registry.get_sample_value("mlspan_experiment_refused_spans_total") == 0


def test_name_vn_arms_resolve_through_the_model_registry(tmp_path: Path) -> None:
    from mlspan.collector.models.config import ModelsConfig
    from mlspan.collector.models.processor import create_models_processor

    host = Host(data_dir=tmp_path)
    models = create_models_processor(ModelsConfig(persist=False), host, None)
    models.start()
    arms = (ArmConfig("old", "churn v1"), ArmConfig("new", "churn v2"))
    declared = ExperimentConfig("by-label", arms, service="churn-api")
    processor = ExperimentsProcessor(ExperimentsConfig(experiments=(declared,)), host, None, None)
    processor.start()
    truth, pred = labelled(15, 400, 0.8)
    early = outcome_spans(V3, truth, pred, 1)
    processor.consume(batch_of(early, service="churn-api"))  # type: ignore[arg-type]
    assert processor.record("by-label").resolved == {}  # type: ignore[union-attr]

    for index, version in enumerate((V3, V4)):  # V3 is fitted first: churn v1
        fit = span_with(
            {
                semconv.OPERATION_NAME: "fit",
                semconv.MODEL_NAME: "churn",
                semconv.MODEL_CLASS: "DecisionTreeClassifier",
                semconv.MODEL_VERSION: version,
            }
        )
        fit.start_time_unix_nano = fit.end_time_unix_nano = (index + 1) * 10**9
        models.consume(batch_of([fit], service="churn-train"))
    processor.consume(batch_of(early, service="churn-api"))  # type: ignore[arg-type]
    record = processor.record("by-label")
    assert record is not None
    assert record.resolved == {"old": V3, "new": V4}
    assert record.totals("old").outcomes == 400
    models.shutdown()
