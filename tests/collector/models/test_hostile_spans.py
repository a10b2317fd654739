"""Hostile spans through the real models processor next to valid spans of other services.

One client's span with a timestamp past SQLite's integers (``fixed64`` allows up to
2^64 - 1), a negative or non-finite metric, megabytes of text, NUL characters or mlspan
attributes of the wrong type must not cost any other client its versions, metrics or
serving counts (the batch they share used to fail as a whole, and the poisoned serving
row failed every later flush too).
"""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.collector.lineage.sanitize import MAX_NS, MAX_TEXT
from mlspan.collector.models.config import ModelsConfig
from mlspan.collector.models.processor import ModelsProcessor, create_models_processor
from mlspan.collector.models.records import Extracted, FitRecord, MetricRecord
from mlspan.collector.models.registry import ModelRegistry
from mlspan.collector.models.store import ModelStore
from mlspan.collector.pdata import FastSchema, TraceBatch
from mlspan.collector.pipeline.factory import Host
from tests.support.spans import AttributeValue, key_values

GOOD = "model:xxh3_128:" + "a" * 32
EVIL = "model:xxh3_128:" + "e" * 32
FAR = 2**64 - 1
"""The largest ``fixed64`` timestamp: past any SQLite integer."""
NOW = 1_700_000_000_000_000_000


def span(
    operation: str,
    digest: AttributeValue,
    start: int = NOW,
    end: int = NOW + 1_000_000,
    **extra: AttributeValue,
) -> trace_pb2.Span:
    attributes: dict[str, AttributeValue] = {
        semconv.OPERATION_NAME: operation,
        semconv.MODEL_VERSION: digest,
        semconv.MODEL_NAME: "churn",
        semconv.MODEL_CLASS: "sklearn.linear_model.LogisticRegression",
        semconv.CALL_ROLE: "user",
    }
    attributes.update(extra)
    return trace_pb2.Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        name=operation,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=key_values(attributes),
    )


def batch(by_service: dict[str, list[trace_pb2.Span]]) -> TraceBatch:
    """One export request with a resource per service (the shared batch)."""
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(attributes=key_values({"service.name": service})),
                scope_spans=[trace_pb2.ScopeSpans(spans=spans)],
            )
            for service, spans in by_service.items()
        ]
    )
    return TraceBatch.from_bytes(FastSchema.build(), request.SerializeToString())


def processor(tmp_path: Path) -> ModelsProcessor:
    built = create_models_processor(ModelsConfig(), Host(data_dir=tmp_path), None)
    built.start()
    return built


def good_spans() -> list[trace_pb2.Span]:
    return [
        span("fit", GOOD),
        span("score", GOOD, **{semconv.METRIC_VALUE: 0.91, semconv.METRIC_NAME: "accuracy"}),
        span("predict", GOOD),
        span("predict", GOOD),
    ]


def hostile_spans() -> list[trace_pb2.Span]:
    huge = "x" * 2_000_000
    wrong_type = common_pb2.KeyValue(
        key=semconv.METRIC_VALUE, value=common_pb2.AnyValue(bytes_value=b"\xff")
    )
    wrongly_typed = span("score", EVIL)
    wrongly_typed.attributes.append(wrong_type)
    return [
        span("fit", EVIL, start=FAR, end=FAR),
        span("fit", EVIL + "2", start=2**63, end=0),
        span("fit", EVIL + "3", **{semconv.MODEL_PARAMS: '{"C": NaN, "tol": Infinity}'}),
        span("fit", huge),
        span("fit", EVIL + "nul\x00", **{semconv.MODEL_CLASS: "a\x00b" + huge}),
        span("fit", 7),  # a version of the wrong type
        span("predict", EVIL, end=FAR),
        span("predict", GOOD, end=FAR),  # another service serving the good version
        span("score", EVIL, end=FAR, **{semconv.METRIC_VALUE: -1e308}),
        span("score", EVIL, **{semconv.METRIC_VALUE: float("nan")}),
        span("score", EVIL, **{semconv.METRIC_VALUE: float("inf")}),
        span("score", EVIL, **{semconv.METRIC_VALUE: "0.5", semconv.METRIC_NAME: huge}),
        wrongly_typed,
    ]


def test_hostile_spans_cost_other_services_nothing(tmp_path: Path) -> None:
    models = processor(tmp_path)
    try:
        for _ in range(3):  # the poisoned serving row used to fail every later flush too
            models.consume(batch({"evil": hostile_spans(), "good": good_spans()}))
            models.registry.flush_serving()
        (good,) = models.registry.versions("good", "churn")
        assert (good.ref.digest, good.fits, good.first_fit_ns) == (GOOD, 3, NOW)
        metrics = models.registry.metrics([GOOD])[GOOD]
        assert [(m.metric, m.value) for m in metrics] == [("accuracy", 0.91)]
        serving = {row.service: row for row in models.registry.serving(GOOD)}
        assert serving["good"].calls == 6
        assert serving["evil"].calls == 3 and serving["evil"].last_ns <= MAX_NS

        evil = {v.ref.digest: v for v in models.registry.versions("evil", "churn")}
        assert set(evil) == {EVIL, EVIL + "2", EVIL + "3", EVIL + "nul\x00"}
        for version in evil.values():
            assert 0 < version.first_fit_ns <= version.last_fit_ns <= MAX_NS
        assert json.loads(evil[EVIL + "3"].params) == {"C": "NaN", "tol": "Infinity"}
        assert len(evil[EVIL + "nul\x00"].model_class) == MAX_TEXT
        evil_metrics = models.registry.metrics([EVIL])[EVIL]
        assert [(m.value, m.at_ns <= MAX_NS) for m in evil_metrics] == [(-1e308, True)]
        assert models.registry.refusals()["clamped"] > 0
    finally:
        models.shutdown()
    reopened = processor(tmp_path)  # and everything was written to the file
    try:
        assert [v.fits for v in reopened.registry.versions("good", "churn")] == [3]
        assert {r.service for r in reopened.registry.serving(GOOD)} == {"good", "evil"}
    finally:
        reopened.shutdown()


def test_a_row_sqlite_refuses_costs_only_itself(tmp_path: Path) -> None:
    """Values extraction does not see (a lone surrogate, an integer past 64 bits from
    another path) are refused row by row by the store, not batch by batch."""
    store = ModelStore(tmp_path / "models.sqlite")
    registry = ModelRegistry(store, ModelsConfig())
    registry.load()

    def fit(digest: str, name: str, start: int) -> FitRecord:
        return FitRecord(
            "svc", name, digest, "cls", "{}", "", "", "", start, start, "", "", None, None, "",
            "", "",
        )  # fmt: skip

    registry.observe(
        Extracted(
            fits=[fit(EVIL, "bad\ud800", NOW), fit(EVIL + "2", "big", FAR), fit(GOOD, "ok", NOW)],
            metrics=[
                MetricRecord(GOOD, "score", "acc", 0.5, FAR, "", NOW, "svc"),
                MetricRecord(GOOD, "score", "f1", 0.7, 10, "", NOW, "svc"),
            ],
        )
    )
    (kept,) = registry.versions("svc", "ok")
    assert kept.ref.digest == GOOD
    assert [m.metric for m in registry.metrics([GOOD])[GOOD]] == ["f1"]
    store.close()
