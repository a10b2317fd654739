"""The scrape-time collector: contract names and labels, live values, the cardinality cap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from mlspan.collector.drift.results import DatasetDrift, ModelKey, ValidationResult
from mlspan.collector.metrics import MetricsConfig, MlspanCollector
from mlspan.collector.metrics.cap import fair_shares
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError
from tests.collector.alerts.builders import KEY, check, dataset, drifted_window, feature

MODEL = {"service": KEY.service, "model": KEY.model_name, "version": KEY.model_version}


@dataclass
class Results:
    """The drift engine's read side: the latest results, replaced as new windows close."""

    drift: list[DatasetDrift] = field(default_factory=list)
    validation: list[ValidationResult] = field(default_factory=list)
    reads: int = 0

    def latest_drift(self) -> Sequence[DatasetDrift]:
        self.reads += 1
        return self.drift

    def latest_validation(self) -> Sequence[ValidationResult]:
        return self.validation


@dataclass
class AlertState:
    firing: dict[tuple[str, str], int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def firing_counts(self) -> Mapping[tuple[str, str], int]:
        return self.firing

    def notification_failures(self) -> Mapping[str, int]:
        return self.failed


def _registry(
    stats: IngestStats,
    results: Results | None = None,
    alerts: AlertState | None = None,
    cap: int = 10_000,
    per_service: int = 2_000,
) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(
        MlspanCollector(
            stats,
            MetricsConfig(max_series_per_metric=cap, max_series_per_service=per_service),
            drift=lambda: results,
            alerts=lambda: alerts,
        )
    )
    return registry


def test_ingest_counters_are_read_at_scrape_time() -> None:
    stats = IngestStats()
    registry = _registry(stats)
    assert registry.get_sample_value("mlspan_spans_received_total", {"receiver": "otlp"}) is None
    stats.spans_received("otlp", 512)
    stats.spans_received("otlp", 8)
    stats.spans_dropped("queue_full", 3)
    stats.request_rejected("otlp_http", "malformed")
    assert registry.get_sample_value("mlspan_spans_received_total", {"receiver": "otlp"}) == 520
    assert registry.get_sample_value("mlspan_spans_dropped_total", {"reason": "queue_full"}) == 3
    rejected = {"receiver": "otlp_http", "reason": "malformed"}
    assert registry.get_sample_value("mlspan_requests_rejected_total", rejected) == 1


def test_drift_and_validation_gauges_follow_the_contract() -> None:
    results = Results(
        [drifted_window()], [check("age", "range", False), check("age", "null_rate", True)]
    )
    registry = _registry(IngestStats(), results)
    age_w = {**MODEL, "feature": "age", "metric": "wasserstein_sigma"}
    assert registry.get_sample_value("mlspan_feature_drift", age_w) == pytest.approx(0.41)
    psi = {**MODEL, "feature": "income", "metric": "psi"}
    assert registry.get_sample_value("mlspan_feature_drift", psi) == pytest.approx(0.05)
    assert registry.get_sample_value("mlspan_feature_drifted", {**MODEL, "feature": "age"}) == 1
    assert registry.get_sample_value("mlspan_feature_drifted", {**MODEL, "feature": "tenure"}) == 0
    share = registry.get_sample_value("mlspan_dataset_drift_share", MODEL)
    assert share == pytest.approx(2 / 3)
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) == 1
    assert registry.get_sample_value("mlspan_validation_failures", {**MODEL, "check": "range"}) == 1
    passing = {**MODEL, "check": "null_rate"}
    assert registry.get_sample_value("mlspan_validation_failures", passing) == 0


def test_new_results_replace_old_ones_without_re_registering() -> None:
    results = Results([drifted_window()])
    registry = _registry(IngestStats(), results)
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) == 1
    results.drift = [dataset(feature("age", 0.01, 0.0))]
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) == 0
    gone = {**MODEL, "feature": "income", "metric": "psi"}
    assert registry.get_sample_value("mlspan_feature_drift", gone) is None


def test_several_models_are_separate_series() -> None:
    other = ModelKey("churn-service", "churn", "4")
    results = Results([drifted_window(), dataset(feature("age", 0.0, 0.0), key=other)])
    registry = _registry(IngestStats(), results)
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) == 1
    v4 = {"service": other.service, "model": other.model_name, "version": "4"}
    assert registry.get_sample_value("mlspan_dataset_drifted", v4) == 0


def test_duplicate_label_sets_are_exported_once() -> None:
    # A prediction and an input sharing a name must not produce duplicate samples,
    # which Prometheus would reject for the whole scrape.
    twice = dataset(feature("score", 0.5, 0.5), feature("score", 0.0, 0.0))
    registry = _registry(IngestStats(), Results([twice]))
    samples = [
        s
        for metric in registry.collect()
        if metric.name == "mlspan_feature_drifted"
        for s in metric.samples
    ]
    assert len(samples) == 1
    assert samples[0].value == 1


def test_alert_families() -> None:
    alerts = AlertState(
        {("DatasetDrift", "warning"): 2, ("SpansDropped", "warning"): 0}, {"oncall": 3}
    )
    registry = _registry(IngestStats(), alerts=alerts)
    firing = {"alert": "DatasetDrift", "severity": "warning"}
    assert registry.get_sample_value("mlspan_alerts_firing", firing) == 2
    quiet = {"alert": "SpansDropped", "severity": "warning"}
    assert registry.get_sample_value("mlspan_alerts_firing", quiet) == 0
    failed = {"receiver": "oncall"}
    assert registry.get_sample_value("mlspan_alert_notifications_failed_total", failed) == 3


def test_cardinality_cap_exports_a_stable_subset_and_counts_the_rest() -> None:
    # 3 features x 3 metrics = 9 mlspan_feature_drift series; the cap keeps 4.
    registry = _registry(IngestStats(), Results([drifted_window()]), cap=4)
    metrics = {m.name: m for m in registry.collect()}
    kept = [
        (s.labels["feature"], s.labels["metric"]) for s in metrics["mlspan_feature_drift"].samples
    ]
    assert kept == sorted(kept)
    assert len(kept) == 4
    overflow = {"metric": "mlspan_feature_drift", "service": KEY.service}
    # Counted per scrape: this is the second collection.
    assert registry.get_sample_value("mlspan_metric_label_overflow_total", overflow) == 10
    assert registry.get_sample_value("mlspan_metric_label_overflow_total", overflow) == 15
    under_cap = {"metric": "mlspan_dataset_drifted", "service": ""}
    assert registry.get_sample_value("mlspan_metric_label_overflow_total", under_cap) == 0


def test_counter_overflow_is_named_as_scraped() -> None:
    stats = IngestStats()
    for reason in ("queue_full", "export_failed", "shutdown"):
        stats.spans_dropped(reason, 1)
    registry = _registry(stats, cap=1)
    overflow = {"metric": "mlspan_spans_dropped_total", "service": ""}
    assert registry.get_sample_value("mlspan_metric_label_overflow_total", overflow) == 2
    assert registry.get_sample_value("mlspan_spans_dropped_total", {"reason": "export_failed"}) == 1
    assert registry.get_sample_value("mlspan_spans_dropped_total", {"reason": "shutdown"}) is None


def test_registration_does_not_read_results() -> None:
    results = Results([drifted_window()])
    registry = _registry(IngestStats(), results)
    assert results.reads == 0
    registry.get_sample_value("mlspan_dataset_drifted", MODEL)
    assert results.reads == 1


def test_a_cap_below_one_is_rejected() -> None:
    with pytest.raises(ConfigError, match="max_series_per_metric"):
        MetricsConfig(max_series_per_metric=0).validate()
    with pytest.raises(ConfigError, match="max_series_per_service"):
        MetricsConfig(max_series_per_service=0).validate()
    assert MetricsConfig().max_series_per_service == 2_000


def _flood(service: str, versions: int, features: int) -> list[DatasetDrift]:
    """One service's many model versions, as a grid search's estimators make them."""
    names = [f"f{i:02d}" for i in range(features)]
    return [
        dataset(*(feature(n, 0.0, 0.0) for n in names), key=ModelKey(service, "m", f"v{v:03d}"))
        for v in range(versions)
    ]


def _series(registry: CollectorRegistry, family: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for metric in registry.collect():
        if metric.name == family:
            for sample in metric.samples:
                counts[sample.labels["service"]] = counts.get(sample.labels["service"], 0) + 1
    return counts


def test_one_service_flooding_the_drift_series_leaves_the_others_theirs() -> None:
    """250 versions x 20 features x 3 metrics = 15,000 series from a service whose name
    sorts first: under the overall cap alone it took all 10,000 and starved the rest."""
    serving = ModelKey("zz-serving", "churn", "7")
    results = Results(
        [
            *_flood("aa-grid-search", 250, 20),
            drifted_window(),
            dataset(feature("age", 0.5, 0.5), key=serving),
        ]
    )
    registry = _registry(IngestStats(), results)
    assert _series(registry, "mlspan_feature_drift") == {
        "aa-grid-search": 2_000,
        KEY.service: 9,
        "zz-serving": 3,
    }
    served = {"service": "zz-serving", "model": "churn", "version": "7", "feature": "age"}
    assert registry.get_sample_value("mlspan_feature_drifted", served) == 1
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) == 1
    overflow = "mlspan_metric_label_overflow_total"
    flood = {"metric": "mlspan_feature_drift", "service": "aa-grid-search"}
    before = registry.get_sample_value(overflow, flood)
    assert before is not None
    # Each scrape counts every series it leaves out.
    assert registry.get_sample_value(overflow, flood) == before + 13_000
    flooded_flags = {"metric": "mlspan_feature_drifted", "service": "aa-grid-search"}
    assert registry.get_sample_value(overflow, flooded_flags) == (before / 13_000 + 2) * 3_000
    quiet = {"metric": "mlspan_feature_drift", "service": "zz-serving"}
    assert registry.get_sample_value(overflow, quiet) is None


def test_the_overall_cap_is_shared_fairly_among_services() -> None:
    results = Results([*_flood("a", 1, 20), *_flood("b", 1, 1), *_flood("c", 1, 20)])
    registry = _registry(IngestStats(), results, cap=10, per_service=100)
    # b needs 1 of its fair third; a and c share the other 9 (the tie goes to c).
    assert _series(registry, "mlspan_feature_drifted") == {"a": 4, "b": 1, "c": 5}
    left_out = {"metric": "mlspan_feature_drifted", "service": "a"}
    # Two full scrapes: _series above and this one.
    assert registry.get_sample_value("mlspan_metric_label_overflow_total", left_out) == 2 * 16


def test_fair_shares() -> None:
    assert fair_shares({"a": 5, "b": 5}, 20) == {"a": 5, "b": 5}
    assert fair_shares({"a": 100, "b": 2, "c": 100}, 10) == {"b": 2, "a": 4, "c": 4}
    assert fair_shares({"a": 100, "b": 100, "c": 100}, 10) == {"a": 3, "b": 3, "c": 4}
    assert sum(fair_shares({str(i): i for i in range(50)}, 300).values()) == 300


class BrokenEngine:
    def latest_drift(self) -> Sequence[DatasetDrift]:
        raise RuntimeError("engine state is being rebuilt")

    def latest_validation(self) -> Sequence[ValidationResult]:
        return []


def test_a_failing_source_costs_its_gauges_not_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    stats = IngestStats()
    stats.spans_received("otlp", 7)
    engine = BrokenEngine()
    registry = CollectorRegistry()
    registry.register(MlspanCollector(stats, drift=lambda: engine))
    assert registry.get_sample_value("mlspan_spans_received_total", {"receiver": "otlp"}) == 7
    assert registry.get_sample_value("mlspan_dataset_drifted", MODEL) is None
    assert "reading drift results for /metrics failed" in caplog.text
