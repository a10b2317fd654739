"""The ``otlp`` exporter against a real OTLP receiver: every span arrives with its
attributes, nothing acknowledged is lost while the receiver is down, and the on-disk
queue carries batches across a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mlspan import semconv
from mlspan.collector.exporters.otlp import OtlpExporterConfig, Protocol
from mlspan.collector.exporters.otlp.config import DEFAULT_MAX_REQUEST_BYTES, Compression
from mlspan.collector.exporters.otlp.factory import create_otlp_exporter
from mlspan.collector.exporters.queued import QueueConfig, QueuedExporter
from mlspan.collector.exporters.retry import RetryConfig
from mlspan.collector.pdata import FastSchema, QueueFullError, TraceBatch
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import ConfigError, Host
from tests.support.otlp_sink import OtlpSink
from tests.support.spans import key_values, ml_request, wide_ml_request

pytestmark = pytest.mark.slow

SCHEMA = FastSchema.build()
FAST_RETRY = RetryConfig(
    initial_interval=0.05, max_interval=0.2, max_elapsed_time=0, randomization_factor=0.1
)


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


def _exporter(
    sink: OtlpSink,
    protocol: Protocol,
    host: Host,
    queue: QueueConfig | None = None,
    retry: RetryConfig = FAST_RETRY,
    shutdown_timeout: float = 5.0,
    compression: Compression = Compression.NONE,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> QueuedExporter:
    endpoint = sink.grpc_endpoint if protocol is Protocol.GRPC else sink.http_endpoint
    config = OtlpExporterConfig(
        endpoint=endpoint,
        protocol=protocol,
        headers={"x-team": "ml"},
        sending_queue=queue or QueueConfig(queue_size=50),
        retry_on_failure=retry,
        timeout=2.0,
        shutdown_timeout=shutdown_timeout,
        compression=compression,
        max_request_bytes=max_request_bytes,
    )
    config.validate()
    exporter = create_otlp_exporter(config, host.for_component("otlp/sink"), None)
    exporter.start()
    return exporter


def _batches(count: int, spans: int = 10) -> list[TraceBatch]:
    return [
        TraceBatch.from_bytes(SCHEMA, ml_request(spans, seed=i).SerializeToString())
        for i in range(count)
    ]


def _span_ids(batches: list[TraceBatch]) -> set[str]:
    return {ref.span_id for batch in batches for ref in batch.spans()}


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.GZIP])
@pytest.mark.parametrize("protocol", [Protocol.GRPC, Protocol.HTTP])
def test_every_span_arrives_with_attributes_intact(
    sink: OtlpSink, tmp_path: Path, protocol: Protocol, compression: Compression
) -> None:
    exporter = _exporter(sink, protocol, Host(data_dir=tmp_path), compression=compression)
    batches = _batches(5)
    try:
        for batch in batches:
            exporter.consume(batch)
        sink.wait_for_spans(50)
    finally:
        exporter.shutdown()
    assert sink.protocols == [protocol.value] * 5
    assert all(headers["x-team"] == "ml" for headers in sink.headers)
    if protocol is Protocol.HTTP:
        expected = "gzip" if compression is Compression.GZIP else None
        assert {h.get("content-encoding") for h in sink.headers} == {expected}
    sent = [ml_request(10, seed=i) for i in range(5)]
    assert sorted(r.SerializeToString() for r in sink.requests) == sorted(
        r.SerializeToString() for r in sent
    )
    attributes = sink.span_attributes()
    assert all(semconv.MODEL_VERSION in a and semconv.IO_INPUTS in a for a in attributes)
    assert {r.resource["service.name"] for r in sink.received_spans()} == {"churn-train"}


@pytest.mark.parametrize("protocol", [Protocol.GRPC, Protocol.HTTP])
def test_receiver_down_for_a_while_loses_nothing_acknowledged(
    sink: OtlpSink, tmp_path: Path, protocol: Protocol
) -> None:
    stats = IngestStats()
    exporter = _exporter(sink, protocol, Host(data_dir=tmp_path, stats=stats))
    batches = _batches(30, spans=4)
    try:
        sink.stop()
        for batch in batches[:20]:
            exporter.consume(batch)
        time.sleep(1.0)  # several failed attempts with backoff
        assert sink.span_count == 0
        sink.start()
        for batch in batches[20:]:
            exporter.consume(batch)
        sink.wait_for_spans(120, timeout=20)
    finally:
        exporter.shutdown()
    assert {r.span.span_id.hex() for r in sink.received_spans()} == _span_ids(batches)
    assert stats.snapshot().spans_dropped == {}


def test_retryable_statuses_are_retried_and_honour_retry_info(
    sink: OtlpSink, tmp_path: Path
) -> None:
    exporter = _exporter(sink, Protocol.GRPC, Host(data_dir=tmp_path))
    try:
        sink.fail_next(3, grpc_code=grpc.StatusCode.UNAVAILABLE)
        exporter.consume(_batches(1)[0])
        sink.wait_for_spans(10, timeout=10)
    finally:
        exporter.shutdown()
    assert len(sink.requests) == 1


def test_permanent_errors_drop_the_batch_and_count_it(sink: OtlpSink, tmp_path: Path) -> None:
    stats = IngestStats()
    exporter = _exporter(sink, Protocol.HTTP, Host(data_dir=tmp_path, stats=stats))
    try:
        sink.fail_next(1, http_status=400)
        batches = _batches(2)
        exporter.consume(batches[0])
        exporter.consume(batches[1])
        sink.wait_for_spans(10)
    finally:
        exporter.shutdown()
    assert stats.snapshot().spans_dropped == {"export_failed": 10}


def test_full_queue_refuses_with_queue_full_error(sink: OtlpSink, tmp_path: Path) -> None:
    sink.stop()
    exporter = _exporter(
        sink, Protocol.GRPC, Host(data_dir=tmp_path), QueueConfig(queue_size=3, num_consumers=1)
    )
    try:
        batches = _batches(4, spans=1)
        for batch in batches[:3]:
            exporter.consume(batch)
        with pytest.raises(QueueFullError):
            exporter.consume(batches[3])
        sink.start()
        sink.wait_for_spans(3, timeout=10)
    finally:
        exporter.shutdown()


def test_on_disk_queue_survives_a_restart(sink: OtlpSink, tmp_path: Path) -> None:
    stats = IngestStats()
    host = Host(data_dir=tmp_path, stats=stats)
    queue = QueueConfig(queue_size=100, persistent=True)
    batches = _batches(12, spans=3)
    sink.stop()
    first = _exporter(sink, Protocol.GRPC, host, queue)
    for batch in batches:
        first.consume(batch)  # acknowledged: written to disk
    first.shutdown()  # receiver still down: the batches stay on disk
    assert stats.snapshot().spans_dropped == {}
    folder = tmp_path / "queues" / "otlp_sink"
    assert len(list(folder.glob("*.otlp"))) == 12
    sink.start()
    second = _exporter(sink, Protocol.GRPC, host, queue)
    try:
        sink.wait_for_spans(36, timeout=20)
    finally:
        second.shutdown()
    assert {r.span.span_id.hex() for r in sink.received_spans()} == _span_ids(batches)
    assert sink.span_count == 36
    assert list(folder.glob("*.otlp")) == []


def test_in_memory_queue_counts_what_shutdown_leaves_behind(sink: OtlpSink, tmp_path: Path) -> None:
    stats = IngestStats()
    sink.stop()
    host = Host(data_dir=tmp_path, stats=stats)
    exporter = _exporter(sink, Protocol.GRPC, host, shutdown_timeout=0.3)
    for batch in _batches(3, spans=2):
        exporter.consume(batch)
    exporter.shutdown()
    exporter.shutdown()
    assert stats.snapshot().spans_dropped == {"shutdown": 6}


@pytest.mark.parametrize("protocol", [Protocol.GRPC, Protocol.HTTP])
def test_a_batch_over_the_backends_limit_arrives_in_parts(
    tmp_path: Path, protocol: Protocol
) -> None:
    """A 10 MB batch (48 fits on 64 features) accepted by mlspan reaches a backend with
    the common 4 MiB limit: split into requests that fit, every span with its resource
    and scope."""
    stats = IngestStats()
    request = wide_ml_request(48)
    second = request.resource_spans.add()
    second.resource.attributes.extend(key_values({"service.name": "churn-score"}))
    second.scope_spans.add().spans.extend(
        ml_request(30, seed=7).resource_spans[0].scope_spans[0].spans
    )
    batch = TraceBatch.from_bytes(SCHEMA, request.SerializeToString())
    assert len(batch.raw) > 10_000_000
    limit = 4 * 1024 * 1024
    with OtlpSink(grpc_max_receive_bytes=limit, http_max_body_bytes=limit) as sink:
        exporter = _exporter(sink, protocol, Host(data_dir=tmp_path, stats=stats))
        try:
            exporter.consume(batch)
            sink.wait_for_spans(78, timeout=30)
        finally:
            exporter.shutdown()
        assert len(sink.requests) == 3
        assert all(r.ByteSize() <= limit for r in sink.requests)
        received = {r.span.span_id: r for r in sink.received_spans()}
    assert set(received) == {ref.span.span_id for ref in batch.spans()}
    assert len(received) == 78
    for ref in batch.spans():
        assert received[ref.span.span_id].resource["service.name"] == ref.service
    assert stats.snapshot().spans_dropped == {}


def test_a_span_larger_than_the_limit_is_dropped_and_counted_once(
    sink: OtlpSink, tmp_path: Path
) -> None:
    stats = IngestStats()
    request = ml_request(10)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[4].attributes.extend(key_values({"blob": "x" * 100_000}))
    batch = TraceBatch.from_bytes(SCHEMA, request.SerializeToString())
    exporter = _exporter(
        sink, Protocol.GRPC, Host(data_dir=tmp_path, stats=stats), max_request_bytes=64 * 1024
    )
    try:
        exporter.consume(batch)
        sink.wait_for_spans(9)
    finally:
        exporter.shutdown()
    assert {r.span.span_id for r in sink.received_spans()} == {
        s.span_id for i, s in enumerate(spans) if i != 4
    }
    assert stats.snapshot().spans_dropped == {"span_too_large": 1}


def test_max_request_bytes_is_validated() -> None:
    OtlpExporterConfig(endpoint="127.0.0.1:4317").validate()
    assert OtlpExporterConfig(endpoint="x:1").max_request_bytes == 4194304
    for bad in (0, 1023, 2**31):
        with pytest.raises(ConfigError, match="max_request_bytes"):
            OtlpExporterConfig(endpoint="127.0.0.1:4317", max_request_bytes=bad).validate()
