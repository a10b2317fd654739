"""The registry on a real SQLite file: numbering, caps, resolving, stage tags, restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlspan.collector.models.config import ModelsConfig
from mlspan.collector.models.records import Extracted, FitRecord, MetricRecord, ServingRecord
from mlspan.collector.models.registry import (
    AmbiguousModelError,
    ModelRegistry,
    UnknownModelError,
)
from mlspan.collector.models.store import SCHEMA_VERSION, ModelStore, SchemaError
from mlspan.collector.pipeline.factory import ConfigError


def fit(digest: str, name: str = "churn", service: str = "svc", at: int = 1) -> FitRecord:
    return FitRecord(
        service=service,
        name=name,
        digest=f"model:xxh3_128:{digest}",
        model_class="sklearn.tree.DecisionTreeClassifier",
        params='{"max_depth": 3}',
        run_id="ab" * 8,
        trace_id="cd" * 16,
        parent_id="",
        start_ns=at,
        end_ns=at + 1_000_000,
        train_digest="data:xxh3_128:" + "0" * 32,
        target_digest="",
        rows=10,
        columns=2,
        framework_version="1.6",
        libraries="{}",
        search="",
    )


def registry(path: Path, **config: object) -> ModelRegistry:
    built = ModelRegistry(ModelStore(path), ModelsConfig(**config))  # type: ignore[arg-type]
    built.load()
    return built


def test_versions_are_numbered_in_order_of_first_fit_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "models.sqlite"
    first = registry(path)
    first.observe(Extracted(fits=[fit("aa" * 16), fit("bb" * 16), fit("aa" * 16, at=5)]))
    refs = first.refs("svc", "churn")
    assert [(r.label, r.digest[-4:]) for r in refs] == [("v1", "aaaa"), ("v2", "bbbb")]
    assert first.digest_of("svc", "churn", 2) == "model:xxh3_128:" + "bb" * 16
    assert first.ref_of("model:xxh3_128:" + "aa" * 16) == refs[0]
    first.flush_serving()
    assert [r.fits for r in first.versions("svc", "churn")] == [2, 1]
    second = registry(path)
    second.observe(Extracted(fits=[fit("cc" * 16)]))
    assert [r.label for r in second.refs("svc", "churn")] == ["v1", "v2", "v3"]


def test_resolve_accepts_labels_numbers_digests_and_prefixes(tmp_path: Path) -> None:
    found = registry(tmp_path / "m.sqlite")
    found.observe(Extracted(fits=[fit("abcd1" + "0" * 27), fit("abcd2" + "0" * 27)]))
    found.observe(Extracted(fits=[fit("abcd1" + "0" * 27, service="other")]))
    assert found.resolve("churn", "v2", "svc").sequence == 2
    assert found.resolve("churn", "1", "svc").sequence == 1
    assert found.resolve("churn", "abcd2", "svc").sequence == 2
    full = "model:xxh3_128:abcd1" + "0" * 27
    assert found.resolve("churn", full, "svc").sequence == 1
    with pytest.raises(AmbiguousModelError, match="services other, svc"):
        found.resolve("churn", "v1")
    with pytest.raises(AmbiguousModelError, match="v1, v2"):
        found.resolve("churn", "abcd", "svc")
    with pytest.raises(UnknownModelError, match=r"versions: v1\.\.v2"):
        found.resolve("churn", "v7", "svc")
    with pytest.raises(UnknownModelError, match="svc/churn"):
        found.resolve("nope", "v1")


def test_caps_refuse_and_count(tmp_path: Path) -> None:
    found = registry(
        tmp_path / "m.sqlite",
        max_models=1,
        max_versions_per_model=2,
        max_metrics_per_version=1,
        max_services_per_version=1,
    )
    found.observe(Extracted(fits=[fit("aa" * 16), fit("bb" * 16), fit("cc" * 16)]))
    found.observe(Extracted(fits=[fit("dd" * 16, name="other")]))
    digest = "model:xxh3_128:" + "aa" * 16
    metric = MetricRecord(digest, "score", "accuracy", 0.9, 100, "data:x", 1, "svc")
    found.observe(
        Extracted(
            metrics=[metric, MetricRecord(digest, "score", "f1", 0.8, 100, "", 1, "svc")],
            serving=[ServingRecord(digest, "a", 1, 3), ServingRecord(digest, "b", 1, 1)],
        )
    )
    assert len(found.refs("svc", "churn")) == 2
    assert found.models() == [("svc", "churn")]
    assert found.refusals() == {"versions": 1, "models": 1, "metrics": 1, "services": 1}
    assert [m.metric for m in found.metrics([digest])[digest]] == ["accuracy"]
    assert [(s.service, s.calls) for s in found.serving(digest)] == [("a", 3)]


def test_stage_tags_move_between_versions(tmp_path: Path) -> None:
    found = registry(tmp_path / "m.sqlite")
    found.observe(Extracted(fits=[fit("aa" * 16), fit("bb" * 16)]))
    v1, v2 = found.refs("svc", "churn")
    assert found.set_tags(v1, ["production", "reviewed"], []) == ["production", "reviewed"]
    assert found.set_tags(v2, ["production"], []) == ["production"]
    assert found.tags("svc", "churn") == {v1.digest: ["reviewed"], v2.digest: ["production"]}
    assert found.set_tags(v1, [], ["reviewed"]) == []


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    ModelStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match="newer"):
        ModelStore(path)


def test_config_rejects_bad_caps() -> None:
    with pytest.raises(ConfigError, match="max_models"):
        ModelsConfig(max_models=0).validate()
    with pytest.raises(ConfigError, match="serving_flush_seconds"):
        ModelsConfig(serving_flush_seconds=0).validate()


def test_summaries_of_a_wide_fit_are_joined_and_bounded(tmp_path: Path) -> None:
    from dataclasses import replace

    from mlspan.collector.models.records import SummaryRecord
    from mlspan.semconv import attributes as attr

    def summary(name: str, sketch: str = "") -> dict[str, object]:
        event: dict[str, object] = {attr.FEATURE_NAME: name, attr.FEATURE_ORIGIN: "input"}
        if sketch:
            event[attr.SUMMARY_SKETCH] = sketch
        return event

    found = registry(tmp_path / "m.sqlite", max_summary_bytes=400)
    first = replace(fit("aa" * 16), summaries=lambda: (summary("f0"),))
    found.observe(Extracted(fits=[first]))
    more = SummaryRecord(first.digest, (summary("f0"), summary("f1"), summary("f2")))
    found.observe(Extracted(summaries=[more]))
    (row,) = found.versions("svc", "churn")
    import json

    assert [s[attr.FEATURE_NAME] for s in json.loads(row.summaries)] == ["f0", "f1", "f2"]
    wide = replace(fit("bb" * 16), summaries=lambda: (summary("g", "A" * 1000),))
    found.observe(Extracted(fits=[wide]))
    rows = found.versions("svc", "churn")
    assert json.loads(rows[1].summaries) == [summary("g")]  # sketch dropped past the cap
    assert found.refusals()["summaries"] == 1
