"""OTLP/gRPC receiver over a real socket: success, partial success and error codes."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mlspan import semconv
from mlspan.collector.pdata import TraceBatch, string_attribute, strings_attribute
from mlspan.collector.pdata.stats import IngestStats
from mlspan.collector.pipeline.factory import Host
from mlspan.collector.receivers.otlp import OtlpReceiver
from mlspan.collector.receivers.otlp.config import GrpcConfig, OtlpReceiverConfig, ProtocolsConfig
from tests.collector.ingest.conftest import LIMIT, RecordingConsumer
from tests.support.otlp_client import grpc_export
from tests.support.spans import ml_request

pytestmark = pytest.mark.slow


def _rpc_error(channel: grpc.Channel, body: bytes, gzip: bool = False) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failed:
        grpc_export(channel, body, gzip=gzip)
    return failed.value


def _with_blob(size: int) -> bytes:
    """A one-span request carrying a ``size``-character attribute."""
    request = ml_request(1)
    blob = common_pb2.KeyValue(key="blob", value=common_pb2.AnyValue(string_value="x" * size))
    request.resource_spans[0].scope_spans[0].spans[0].attributes.append(blob)
    return bytes(request.SerializeToString())


def _retry_delay(error: grpc.RpcError) -> float | None:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def test_sdk_exporter_spans_arrive_with_attributes(
    receiver: OtlpReceiver, consumer: RecordingConsumer, stats: IngestStats
) -> None:
    assert receiver.grpc is not None
    provider = TracerProvider(resource=Resource.create({"service.name": "train"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.grpc.address, insecure=True))
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("fit LogisticRegression") as span:
        span.set_attribute(semconv.MODEL_NAME, "churn")
        span.set_attribute(semconv.IO_INPUTS, ["xxh3_128:aa", "xxh3_128:bb"])
    provider.shutdown()
    assert consumer.span_count == 1
    ref = next(consumer.batches[0].spans())
    assert ref.service == "train"
    assert ref.span.name == "fit LogisticRegression"
    assert string_attribute(ref.span.attributes, semconv.MODEL_NAME) == "churn"
    assert strings_attribute(ref.span.attributes, semconv.IO_INPUTS) == [
        "xxh3_128:aa",
        "xxh3_128:bb",
    ]
    assert stats.snapshot().spans_received == {"otlp": 1}


def test_raw_bytes_are_kept_unchanged_and_gzip_is_accepted(
    channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    body = ml_request(50).SerializeToString()
    response = grpc_export(channel, body, gzip=True)
    assert trace_service_pb2.ExportTraceServiceResponse.FromString(response) == (
        trace_service_pb2.ExportTraceServiceResponse()
    )
    assert consumer.batches[0].raw == body
    assert consumer.span_count == 50


def test_spans_with_malformed_ids_get_a_partial_success(
    channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    request = ml_request(10)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[2].trace_id = b"\x01\x02"
    spans[5].span_id = bytes(8)
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(
        grpc_export(channel, request.SerializeToString())
    )
    assert response.partial_success.rejected_spans == 2
    assert "malformed" in response.partial_success.error_message
    assert consumer.span_count == 8
    forwarded = trace_service_pb2.ExportTraceServiceRequest.FromString(consumer.batches[0].raw)
    kept = forwarded.resource_spans[0].scope_spans[0].spans
    assert [s.span_id for s in kept] == [s.span_id for i, s in enumerate(spans) if i not in (2, 5)]


def test_malformed_request_is_invalid_argument_and_counted(
    stats: IngestStats, channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    error = _rpc_error(channel, b"\xff\xff\xff garbage")
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _retry_delay(error) is None
    stats = stats.snapshot()
    assert stats.requests_rejected == {("otlp", "malformed"): 1}
    grpc_export(channel, ml_request(3).SerializeToString())
    assert consumer.span_count == 3


def test_oversized_request_is_resource_exhausted_and_counted(
    stats: IngestStats, channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    body = _with_blob(LIMIT)
    error = _rpc_error(channel, body)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == f"request of {len(body)} bytes over {LIMIT}"
    assert _retry_delay(error) is None  # not retryable: the same request stays too large
    assert stats.snapshot().requests_rejected == {("otlp", "too_large"): 1}
    grpc_export(channel, ml_request(2).SerializeToString())
    assert consumer.span_count == 2


def test_oversized_gzip_request_is_measured_after_decompression(
    stats: IngestStats, channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    error = _rpc_error(channel, _with_blob(2 * LIMIT), gzip=True)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stats.snapshot().requests_rejected == {("otlp", "too_large"): 1}
    assert consumer.batches == []


def test_full_queue_is_resource_exhausted_with_retry_info(
    stats: IngestStats, channel: grpc.Channel, consumer: RecordingConsumer
) -> None:
    consumer.full = True
    error = _rpc_error(channel, ml_request(4).SerializeToString())
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _retry_delay(error) == 2
    stats = stats.snapshot()
    assert stats.requests_rejected == {("otlp", "queue_full"): 1}
    assert stats.spans_dropped == {}  # refused, not lost: the sender retries


def test_shutting_down_answers_unavailable_with_retry_info(
    receiver: OtlpReceiver, channel: grpc.Channel
) -> None:
    receiver.ingest.stop_accepting()
    error = _rpc_error(channel, ml_request(1).SerializeToString())
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert _retry_delay(error) == 2


def test_empty_request_is_accepted(channel: grpc.Channel, consumer: RecordingConsumer) -> None:
    assert grpc_export(channel, b"") == b""
    assert consumer.batches == []


class _GatedConsumer(RecordingConsumer):
    """Holds every call until the gate opens, like a pipeline busy for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def consume(self, batch: TraceBatch) -> None:
        self.gate.wait(30)
        super().consume(batch)


def test_calls_beyond_the_server_threads_wait_on_one_connection(
    tmp_path: Path, stats: IngestStats
) -> None:
    """An exporter sends over one connection: calls beyond what the server threads can
    take wait in that connection (HTTP/2 stream limit) instead of being refused with a
    RESOURCE_EXHAUSTED that carries no RetryInfo (which OTLP clients must not retry)."""
    consumer = _GatedConsumer()
    config = OtlpReceiverConfig(
        protocols=ProtocolsConfig(
            grpc=GrpcConfig(endpoint="127.0.0.1:0", max_concurrent_requests=1), http=None
        )
    )
    receiver = OtlpReceiver("otlp", config, consumer, Host(data_dir=tmp_path, stats=stats))
    receiver.start()
    try:
        assert receiver.grpc is not None
        with grpc.insecure_channel(receiver.grpc.address) as channel:
            body = ml_request(2).SerializeToString()
            with futures.ThreadPoolExecutor(12) as pool:
                calls = [pool.submit(grpc_export, channel, body, 30) for _ in range(12)]
                time.sleep(1.0)  # every call has been sent; one is being served
                consumer.gate.set()
                errors = [call.exception() for call in calls]
    finally:
        receiver.shutdown()
    assert errors == [None] * 12
    assert consumer.span_count == 24
