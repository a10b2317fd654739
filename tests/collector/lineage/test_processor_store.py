"""Span extraction, the processor's queue and hand-off, and the SQLite store itself."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan.collector.lineage import (
    LineageConfig,
    LineageProcessor,
    LineageQueries,
    extract,
    lineage_factory,
)
from mlspan.collector.pdata import QueueFullError
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Host
from mlspan.collector.store import SqliteStore, StoreVersionError, open_store
from mlspan.collector.store.sqlite_connection import PAGE_SIZE
from mlspan.semconv import (
    COMPONENT_NAME,
    COMPONENT_OWNER,
    COMPONENT_TAGS,
    DATASET_DIGEST,
    DATASET_SOURCE,
    IO_INPUTS,
    IO_OUTPUTS,
    MODEL_CLASS,
    MODEL_PARAMS,
    MODEL_VERSION,
    OPERATION_NAME,
    PREDICTION_DIGEST,
)
from tests.collector.lineage.otlp import BASE_NS, Pipeline, batch
from tests.support.spans import AttributeValue, key_values


def op_span(span_id: int, name: str, attributes: dict[str, AttributeValue]) -> trace_pb2.Span:
    return trace_pb2.Span(
        trace_id=b"\x02" * 16,
        span_id=span_id.to_bytes(8, "big"),
        name=name,
        start_time_unix_nano=BASE_NS + span_id,
        end_time_unix_nano=BASE_NS + span_id + 1000,
        attributes=key_values(attributes),
        status=trace_pb2.Status(code=2, message="boom") if span_id == 3 else None,
    )


def test_operation_spans_link_data_models_predictions_and_paths() -> None:
    spans = [
        op_span(
            1,
            "read csv",
            {
                OPERATION_NAME: "read",
                DATASET_SOURCE: "data/train.csv",
                DATASET_DIGEST: "data:x:train",  # what it read: an output, not an input
                IO_INPUTS: ["file:x:f"],
                IO_OUTPUTS: ["data:x:train"],
            },
        ),
        op_span(
            2,
            "fit LogisticRegression",
            {
                OPERATION_NAME: "fit",
                MODEL_CLASS: "LogisticRegression",
                MODEL_VERSION: "model:x:m",
                MODEL_PARAMS: '{"C": 1.0}',
                DATASET_DIGEST: "data:x:train",
            },
        ),
        op_span(
            3,
            "predict LogisticRegression",
            {
                OPERATION_NAME: "predict",
                MODEL_VERSION: "model:x:m",
                DATASET_DIGEST: "data:x:b",
                PREDICTION_DIGEST: "data:x:p",
            },
        ),
        op_span(
            4,
            "write csv",
            {OPERATION_NAME: "write", DATASET_SOURCE: "out/p.csv", DATASET_DIGEST: "data:x:p"},
        ),
        op_span(5, "GET /health", {"http.method": "GET"}),
    ]
    records = extract(batch("svc", spans))
    assert [r.name for r in records.runs] == [s.name for s in spans[:4]]
    edges = {(e.run_id[-1], e.direction, a) for e in records.io for a in e.artifact_ids}
    assert edges == {
        ("1", "in", "file:x:f"),
        ("1", "out", "data:x:train"),
        ("2", "in", "data:x:train"),
        ("2", "out", "model:x:m"),
        ("3", "in", "model:x:m"),
        ("3", "in", "data:x:b"),
        ("3", "out", "data:x:p"),
        ("4", "in", "data:x:p"),
    }
    assert {(n.artifact_id, n.name) for n in records.names} == {
        ("file:x:f", "data/train.csv"),
        ("data:x:p", "out/p.csv"),
    }
    fit, predict = records.runs[1], records.runs[2]
    assert (fit.model_class, fit.model_version, fit.params) == (
        "LogisticRegression",
        "model:x:m",
        '{"C": 1.0}',
    )
    assert (predict.status, predict.status_message, fit.status) == ("error", "boom", "unset")
    assert fit.component == "fit LogisticRegression"


def test_full_queue_refuses_with_retryable_error_and_counts(tmp_path: Path) -> None:
    stats = IngestStats()
    store = open_store(tmp_path)
    processor = LineageProcessor(LineageConfig(queue_size=2), store, stats)
    p = Pipeline()
    batches = [batch("svc", [p.span(f"c{i}", [], [f"data:x:{i}"])]) for i in range(3)]
    processor.consume(batches[0])
    processor.consume(batches[1])
    with pytest.raises(QueueFullError):
        processor.consume(batches[2])
    assert stats.snapshot().spans_dropped == {}  # refused, not lost
    processor.start()
    assert processor.flush(10)
    processor.consume(batches[2])  # the sender's retry is accepted once there is room
    processor.shutdown()  # drains what was accepted
    processor.shutdown()
    assert len(store.recent_runs(10, None, None)) == 3
    with pytest.raises(QueueFullError):
        processor.consume(batches[0])
    store.close()


def test_batches_pass_to_the_next_consumer(tmp_path: Path) -> None:
    first_store, second_store = open_store(tmp_path / "a"), open_store(tmp_path / "b")
    second = LineageProcessor(LineageConfig(), second_store, IngestStats())
    first = LineageProcessor(LineageConfig(), first_store, IngestStats(), second)
    second.start()
    first.start()
    first.consume(batch("svc", [Pipeline().span("only", [], ["data:x:1"])]))
    first.shutdown()
    second.shutdown()
    for store in (first_store, second_store):
        assert [r.component for r in store.recent_runs(5, None, None)] == ["only"]
        store.close()


def test_factory_opens_its_own_store_and_registers_routes(tmp_path: Path) -> None:
    from mlspan.collector.api import Router

    factory = lineage_factory()
    config = factory.parse_config("lineage", {"queue_size": 5, "stale_after_days": 7})
    router = Router()
    host = Host(data_dir=tmp_path, router=router)
    processor = factory.create(config, host, None)
    processor.start()
    processor.shutdown()
    assert (tmp_path / "lineage.db").exists()
    assert any(route.path == "/api/v1/trace/{ref}" for route in router.routes)
    factory.create(config, host, None).shutdown()  # a second one does not re-register
    with pytest.raises(ConfigError, match="queue_size"):
        factory.parse_config("lineage", {"queue_size": 0})
    with pytest.raises(ConfigError, match="unknown key 'queue'"):
        factory.parse_config("lineage", {"queue": 1})
    with pytest.raises(ConfigError, match="unknown operation 'guess'"):
        factory.parse_config("lineage", {"skip_operations": ["predict", "guess"]})


def test_skipped_operations_are_not_runs(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    config = LineageConfig(skip_operations=("predict",))
    processor = LineageProcessor(config, store, IngestStats())
    processor.start()
    spans = [
        op_span(1, "fit X", {OPERATION_NAME: "fit", MODEL_VERSION: "model:x:m"}),
        op_span(2, "predict X", {OPERATION_NAME: "predict", MODEL_VERSION: "model:x:m"}),
    ]
    processor.consume(batch("svc", spans))
    processor.shutdown()
    assert [r.operation for r in store.recent_runs(10, None, None)] == ["fit"]
    store.close()


def test_redelivery_is_idempotent(store: SqliteStore, queries: LineageQueries) -> None:
    p = Pipeline()
    item = batch("svc", [p.span("a", ["data:x:1"], ["data:x:2"])])
    store.write(extract(item))
    store.write(extract(item))
    assert len(store.recent_runs(10, None, None)) == 1
    assert len(queries.trace("data:x:2")["edges"]) == 2


def test_schema_is_versioned_and_newer_stores_are_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert isinstance(store, SqliteStore)
    assert store.schema_version == 3
    store.close()
    reopened = open_store(f"sqlite://{tmp_path}/lineage.db")
    assert isinstance(reopened, SqliteStore) and reopened.schema_version == 3
    reopened.close()
    with sqlite3.connect(tmp_path / "lineage.db") as db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    with pytest.raises(StoreVersionError, match="schema version 99"):
        open_store(tmp_path)
    with pytest.raises(ValueError, match="unsupported store URL scheme 'mysql'"):
        open_store("mysql://db/lineage")


def test_new_stores_use_large_pages_and_older_page_sizes_still_open(tmp_path: Path) -> None:
    store = open_store(tmp_path / "new")
    assert isinstance(store, SqliteStore)
    store.close()
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    db.close()
    old_path = tmp_path / "old" / "lineage.db"
    old_path.parent.mkdir()
    with sqlite3.connect(old_path) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE placeholder (x INTEGER)")
    db.close()
    old = open_store(old_path)
    p = Pipeline()
    old.write(extract(batch("svc", [p.span("a", ["data:x:1"], ["data:x:2"])])))
    assert set(old.artifacts(["data:x:1", "data:x:2"])) == {"data:x:1", "data:x:2"}
    old.close()
    with sqlite3.connect(old_path) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    db.close()


def test_components_keep_owner_tags_and_first_and_last_seen(store: SqliteStore) -> None:
    spans = [
        op_span(10, "clean", {COMPONENT_NAME: "clean", COMPONENT_OWNER: "ana",
                              COMPONENT_TAGS: ["etl", "daily"]}),
        op_span(20, "clean", {COMPONENT_NAME: "clean"}),
        op_span(30, "fit LogisticRegression", {OPERATION_NAME: "fit"}),
        op_span(40, "fit LogisticRegression", {OPERATION_NAME: "fit"}),
    ]  # fmt: skip
    store.write(extract(batch("svc", spans[:2])))
    store.write(extract(batch("svc", spans[2:])))
    store.write(extract(batch("svc", [op_span(5, "clean", {COMPONENT_NAME: "clean"})])))
    clean = store.component("clean")
    assert clean is not None
    assert (clean.owner, clean.first_seen_ns, clean.last_seen_ns) == (
        "ana",
        BASE_NS + 5,
        BASE_NS + 20,
    )
    assert store.tags("component", ["clean"]) == {"clean": ["daily", "etl"]}
    fit = store.component("fit LogisticRegression")
    assert fit is not None and fit.last_seen_ns == BASE_NS + 40


def test_concurrent_writer_and_readers(store: SqliteStore) -> None:
    queries = LineageQueries(store)
    p = Pipeline()
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(200):
                store.write(
                    extract(batch("svc", [p.span("s", [f"data:x:{i}"], [f"data:x:{i + 1}"])]))
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                queries.recent(limit=5)
                if store.artifacts(["data:x:1"]):
                    queries.trace("data:x:1")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(queries.trace("data:x:200")["runs"]) == 200


def test_wrongly_typed_attributes_do_not_break_extraction() -> None:
    spans = [
        op_span(1, "odd", {OPERATION_NAME: "fit", IO_INPUTS: [1, 2], IO_OUTPUTS: 3.5,
                           MODEL_VERSION: True, DATASET_SOURCE: ["a", "b"]}),
        op_span(2, "fine", {OPERATION_NAME: "read", IO_OUTPUTS: ["data:x:ok"]}),
    ]  # fmt: skip
    records = extract(batch("svc", spans))
    assert [r.name for r in records.runs] == ["odd", "fine"]
    assert [(e.run_id[-1], e.artifact_ids) for e in records.io] == [("2", ("data:x:ok",))]
    assert records.names == []


def test_store_failure_is_counted_and_the_writer_keeps_going(tmp_path: Path) -> None:
    stats = IngestStats()
    store = open_store(tmp_path)
    processor = LineageProcessor(LineageConfig(), store, stats)
    processor.start()
    store.close()
    processor.consume(batch("svc", [Pipeline().span("a", [], ["data:x:1"])]))
    assert processor.flush(10)
    assert stats.snapshot().spans_dropped == {"lineage_store_error": 1}
    processor.consume(batch("svc", [Pipeline(first_id=9).span("b", [], ["data:x:2"])]))
    assert processor.flush(10)
    assert stats.snapshot().spans_dropped == {"lineage_store_error": 2}
    processor.shutdown()
